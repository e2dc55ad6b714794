"""Sentry is imported only when SENTRY_DSN is set, and events carry the tenant."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from relaypoint_core.config import load_settings
from relaypoint_core.errors import MissingExtraError
from relaypoint_core.monitoring.sentry import init_sentry, init_sentry_from_settings, tenant_tagger
from relaypoint_core.tenant_context import tenant_scope


def test_without_a_dsn_sentry_is_never_imported() -> None:
    code = (
        "import os, sys\n"
        "os.environ.pop('SENTRY_DSN', None)\n"
        "from relaypoint_core.monitoring.sentry import init_sentry\n"
        "assert init_sentry() is False\n"
        "assert 'sentry_sdk' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_dsn_without_the_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentry_sdk", None)  # makes the import fail
    monkeypatch.setenv("SENTRY_DSN", "https://public@sentry.example/1")
    with pytest.raises(MissingExtraError, match=r"relaypoint\[sentry\]"):
        init_sentry()


def test_bad_sample_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="traces_sample_rate"):
        init_sentry("https://public@sentry.example/1", traces_sample_rate=2.0)


def test_events_are_sent_with_the_tenant_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    sentry_sdk = pytest.importorskip("sentry_sdk")
    from sentry_sdk.transport import Transport

    envelopes: list[Any] = []

    class Capture(Transport):
        def capture_envelope(self, envelope: Any) -> None:
            envelopes.append(envelope)

    seen_by_user_hook: list[str] = []

    def user_hook(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        seen_by_user_hook.append(event["tags"]["tenant_id"])
        return event

    monkeypatch.delenv("SENTRY_DSN", raising=False)
    settings = load_settings(ENVIRONMENT="test", SENTRY_DSN="https://public@sentry.example/1")
    try:
        assert init_sentry_from_settings(settings, transport=Capture(), before_send=user_hook)
        with tenant_scope("acme"):
            sentry_sdk.capture_message("workflow failed")
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # back to a disabled client for the rest of the run
    events = [item.payload.json for env in envelopes for item in env.items if item.type == "event"]
    assert len(events) == 1
    assert events[0]["tags"]["tenant_id"] == "acme"
    assert events[0]["environment"] == "test"
    assert seen_by_user_hook == ["acme"]


def test_tagger_leaves_events_alone_outside_a_tenant() -> None:
    event: dict[str, Any] = {"message": "x"}
    assert tenant_tagger()(event, {}) == {"message": "x"}
