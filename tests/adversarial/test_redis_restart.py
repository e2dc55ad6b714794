"""Redis restarts under the live app: once the restarted server answers, nothing answers 503.

Issue #12 item 5 saw sporadic 503s on login and refresh for about 80 s after a Redis restart,
and a failing first ``/health/ready``: every pooled connection was dead and each failed the
request that drew it. The hardened app runs on its own redis-server so the test may restart it.
"""

from __future__ import annotations

import pytest

from tests.adversarial.conftest import API, HardenedApp, bearer

pytestmark = pytest.mark.redis


def test_no_503_once_a_restarted_redis_answers(hardened: HardenedApp) -> None:
    app, server = hardened.app, hardened.redis
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
