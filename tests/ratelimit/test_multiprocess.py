"""Four processes hammer one user on one real Redis; the server's own timestamps prove that no
window ever admitted more than its limit and that the total stays within the documented bound."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.ratelimit.multiprocess_tiers import TENANT_WINDOW, USER_WINDOW
from tests.ratelimit.oracle import Oracle

PROCESSES = 4
DURATION = 3.0
ROOT = Path(__file__).resolve().parents[2]


def test_four_processes_never_overshoot_and_admit_within_the_bound(
    redis_url: str, key_prefix: str
) -> None:
    tenant = f"mp-{uuid.uuid4().hex[:8]}"
    start_at = time.time() + 1.5  # every process connected and waiting before the gun
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.ratelimit.hammer",
                redis_url,
                key_prefix,
                tenant,
                str(start_at),
                str(DURATION),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    logs = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        logs.append(json.loads(out))
    events = sorted((t, ok) for log in logs for t, ok in log)
    assert all(len(log) > 10 for log in logs), "every process must have taken part"

    oracle = Oracle()
    oracle.counter("user", USER_WINDOW)
    oracle.counter("tenant", TENANT_WINDOW)
    for t, ok in events:
        oracle.record(["user", "tenant"], t, 1, ok)
    oracle.assert_never_over_limit()
    oracle.assert_refusals_justified()

    # The documented bound on the total for a client that is never idle longer than g:
    #   L * floor(D / (2 * (W + b) + g))  <=  admitted  <=  L * ceil(D / W)
    admitted = [t for t, ok in events if ok]
    span = events[-1][0] - events[0][0]
    gap = max(b[0] - a[0] for a, b in itertools.pairwise(events))
    w, b, limit = USER_WINDOW.window_us, USER_WINDOW.bucket_us, USER_WINDOW.limit
    assert (w + b) // gap >= limit, "the processes did not keep the user saturated"
    lower = limit * (span // (2 * (w + b) + gap))
    upper = limit * math.ceil((span + 1) / w)
    print(f"admitted {len(admitted)} of {len(events)}; bound [{lower}, {upper}]")
    assert lower <= len(admitted) <= upper, (lower, len(admitted), upper)
    assert len(events) > len(admitted)  # they really were refused along the way
