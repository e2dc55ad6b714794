"""Enterprise identity in the reference app: API keys next to the token service, session and
key routes, and the JWKS endpoint. ``install_identity`` is the one call ``create_app`` makes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.params import Depends

from examples.app.routes_api_keys import API_KEYS_STATE_ATTR, build_api_key_router
from examples.app.routes_sessions import build_session_router, jwks_router
from examples.app.runtime import Runtime
from relaypoint_core.auth.api_keys import ApiKeyService
from relaypoint_core.auth.stores.api_keys import create_api_key_store

__all__ = ["install_identity"]


def install_identity(
    app: FastAPI,
    runtime: Runtime,
    *,
    prefix: str,
    dependencies: Sequence[Depends],
    responses: dict[int | str, dict[str, Any]],
) -> ApiKeyService:
    """Build the API-key service on the app's backend (Redis when ``REDIS_URL`` is set), let the
    token service accept its keys (closed with it), and mount the identity routes."""
    config = runtime.config
    keys = ApiKeyService(
        create_api_key_store(config.redis_url, key_prefix=config.key_prefix),
        checker=runtime.auth.checker,
        audit=runtime.auth.audit,
    )
    runtime.auth.add_credential_verifier(keys)
    setattr(app.state, API_KEYS_STATE_ATTR, keys)
    for router in (build_api_key_router(), build_session_router()):
        app.include_router(
            router, prefix=prefix, dependencies=list(dependencies), responses=responses
        )
    app.include_router(jwks_router)
    signer = runtime.auth.keys.current
    runtime.notes.append(
        f"signing:       {signer.algorithm} key {signer.kid!r}"
        + ("" if signer.is_symmetric else " (public key at /.well-known/jwks.json)")
    )
    runtime.notes.append(
        "api keys:      " + ("Redis" if config.redis_url else "memory:// (in-process)")
    )
    return keys
