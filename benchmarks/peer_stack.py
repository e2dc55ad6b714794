"""The stack a user would otherwise assemble for the reference app's cached workflow read.

FastAPI with TrustedHost, CORS and GZip; prometheus-fastapi-instrumentator; a PyJWT bearer
dependency (HS256 with ``iss``/``aud`` checks); slowapi on limits' memory storage with the
ENTERPRISE tier's three windows per user; the workflow read cached with cashews (memory). It is
what ``bench_wrk`` measures RelayPoint's whole stack against: ``uvicorn
benchmarks.peer_stack:peer_app --factory`` with ``RP_PEER_SECRET`` set.
"""

# No ``from __future__ import annotations``: FastAPI must see the real ``Request`` and
# ``Response`` classes, which are imported inside the factory.
import os
from typing import Annotated, Any

ISSUER = "peer-stack"
AUDIENCE = "peer-api"
LIMITS = "5000/minute;200000/hour;2000000/day"
WORKFLOW = {
    "name": "Invoice approval",
    "status": "active",
    "steps": [{"name": "greet", "action": "uppercase", "input": "hello"}],
}


def peer_app() -> Any:
    """The peer stack as an ASGI app (a uvicorn ``--factory``)."""
    import jwt
    from cashews import Cache
    from fastapi import Depends, FastAPI, HTTPException, Request, Response
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from prometheus_fastapi_instrumentator import Instrumentator
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded
    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    secret = os.environ["RP_PEER_SECRET"]
    bearer = HTTPBearer()
    cache = Cache()
    cache.setup("mem://")

    async def principal(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]
    ) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                credentials.credentials,
                secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "tid"]},
            )
        except jwt.PyJWTError as exc:
            raise HTTPException(401, "invalid token") from exc
        request.state.user = f"{claims['tid']}:{claims['sub']}"
        return claims

    def user_key(request: Request) -> str:
        return str(getattr(request.state, "user", request.client.host if request.client else ""))

    limiter = Limiter(key_func=user_key, storage_uri="memory://", headers_enabled=True)

    @cache(ttl="5m", key="workflow:{tenant}:{workflow_id}")
    async def load_workflow(tenant: str, workflow_id: str) -> dict[str, Any]:
        return {"id": workflow_id, "tenant": tenant, **WORKFLOW}

    app = FastAPI()
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/workflows/{workflow_id}")
    @limiter.limit(LIMITS)
    async def read(
        request: Request,
        response: Response,
        workflow_id: str,
        claims: Annotated[dict[str, Any], Depends(principal)],
    ) -> dict[str, Any]:
        value: dict[str, Any] = await load_workflow(claims["tid"], workflow_id)
        return value

    Instrumentator().instrument(app).expose(app)
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["http://localhost:3000"],
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Tenant-ID"],
        max_age=600,
    )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])
    return app


def peer_token(secret: str, tenant: str, user: str) -> str:
    """An access token the peer stack accepts, valid for an hour."""
    import time

    import jwt

    now = int(time.time())
    claims = {"sub": user, "tid": tenant, "iss": ISSUER, "aud": AUDIENCE, "iat": now}
    return jwt.encode({**claims, "exp": now + 3600}, secret, algorithm="HS256")
