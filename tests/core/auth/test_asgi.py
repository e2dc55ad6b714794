"""The pure ASGI middleware leaves a verified principal (or nothing) in the scope."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from relaypoint_core.auth import AuthService, TokenExpiredError, UserRecord
from relaypoint_core.auth.asgi import AUTH_ERROR_STATE_KEY, AuthenticationMiddleware, bearer_token
from relaypoint_core.request_state import Principal, get_scope_principal
from relaypoint_core.testing import FakeClock

ALICE = UserRecord("u-1", "alice@acme.test", None, "acme", ("manager",))


async def _run(service: AuthService, scope: dict[str, Any]) -> MutableMapping[str, Any]:
    seen: list[MutableMapping[str, Any]] = []

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: MutableMapping[str, Any]) -> None:
        raise AssertionError("the middleware must never answer by itself")

    await AuthenticationMiddleware(app, auth_service=service)(scope, receive, send)
    [passed] = seen
    return passed


def _scope(*headers: tuple[bytes, bytes], kind: str = "http") -> dict[str, Any]:
    return {"type": kind, "headers": list(headers), "path": "/"}


async def test_valid_token_sets_the_principal(service: AuthService) -> None:
    token = (await service.issue_tokens(ALICE)).access_token
    scope = await _run(service, _scope((b"authorization", f"Bearer {token}".encode())))
    principal = get_scope_principal(scope)
    assert isinstance(principal, Principal)
    assert (principal.user_id, principal.tenant_id, principal.roles) == (
        "u-1",
        "acme",
        ("manager",),
    )
    ws = await _run(
        service, _scope((b"authorization", f"bearer {token}".encode()), kind="websocket")
    )
    assert get_scope_principal(ws) == principal


async def test_missing_or_bad_token_leaves_the_request_anonymous(
    service: AuthService, fake_clock: FakeClock
) -> None:
    assert get_scope_principal(await _run(service, _scope())) is None
    scope = await _run(service, _scope((b"authorization", b"Bearer nonsense")))
    assert get_scope_principal(scope) is None
    token = (await service.issue_tokens(ALICE)).access_token
    fake_clock.advance(3600)
    scope = await _run(service, _scope((b"authorization", f"Bearer {token}".encode())))
    assert get_scope_principal(scope) is None
    assert isinstance(scope["state"][AUTH_ERROR_STATE_KEY], TokenExpiredError)


async def test_lifespan_passes_through(service: AuthService) -> None:
    scope = await _run(service, {"type": "lifespan"})
    assert "state" not in scope


def test_bearer_token_parsing() -> None:
    assert bearer_token([(b"authorization", b"Bearer abc")]) == "abc"
    assert bearer_token([(b"authorization", b"  bearer   abc ")]) == "abc"
    assert bearer_token([(b"authorization", b"Basic abc")]) is None
    assert bearer_token([(b"authorization", b"Bearer ")]) is None
    assert bearer_token([(b"x-other", b"Bearer abc")]) is None


async def test_testing_helpers_issue_tokens_for_any_principal() -> None:
    from relaypoint_core.auth.testing import issue_access_token, make_test_auth_service

    service = make_test_auth_service()
    token = await issue_access_token(service, "u-9", tenant_id="acme", roles=["viewer"])
    principal = await service.verify_access_token(token)
    assert (principal.user_id, principal.tenant_id, principal.roles) == ("u-9", "acme", ("viewer",))
