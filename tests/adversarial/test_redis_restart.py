"""Redis restarts under the live app: once the restarted server answers, nothing answers 503.

Issue #12 item 5 saw sporadic 503s on login and refresh for about 80 s after a Redis restart,
and a failing first ``/health/ready``: every pooled connection was dead and each failed the
request that drew it. This app runs on its own redis-server so the test may restart it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adversarial.conftest import API, bearer
from tests.conftest import require_service
from tests.examples.conftest import LiveApp, start_app, stop_app
from tests.support.services import RedisServer

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def redis_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApp, RedisServer]]:
    require_service("redis")
    server = RedisServer().start()
    try:
        app = start_app(
            "private-redis", tmp_path_factory.mktemp("app-redis"), {"REDIS_URL": server.url}
        )
        try:
            yield app, server
        finally:
            stop_app(app)
    finally:
        server.cleanup()


def test_no_503_once_a_restarted_redis_answers(redis_app: tuple[LiveApp, RedisServer]) -> None:
    app, server = redis_app
    sessions = [app.login(email) for email in ("user@acme.example", "manager@acme.example")]
    with app.client() as client:
        # Warm every pool (tokens, rate limits, cache, health) with a few concurrent-ish calls.
        for tokens in sessions:
            assert client.get(f"{API}/workflows", headers=bearer(tokens)).status_code == 200
        assert client.get("/health/ready").status_code == 200
    for _round in range(2):
        server.restart()  # no persistence: the sessions' refresh families are gone with it
        with app.client() as client:
            ready = client.get("/health/ready")
            assert ready.status_code == 200, ready.text
            for tokens in sessions:  # access tokens still verify; rate limits count in Redis
                listed = client.get(f"{API}/workflows", headers=bearer(tokens))
                assert listed.status_code == 200, listed.text
            login = client.post(
                f"{API}/auth/login",
                json={"email": "viewer@acme.example", "password": "relaypoint-demo"},
            )
            assert login.status_code == 200, login.text
            refreshed = client.post(
                f"{API}/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
            )
            assert refreshed.status_code == 200, refreshed.text
