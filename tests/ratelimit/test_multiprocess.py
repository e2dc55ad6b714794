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
        logs.append(json.loads(out)["log"])
    events = sorted((t, ok) for log in logs for t, ok in log)
    assert all(len(log) > 10 for log in logs), "every process must have taken part"

    oracle = Oracle()
    oracle.counter("user", USER_WINDOW)
    oracle.counter("tenant", TENANT_WINDOW)
    for t, ok in events:
        oracle.record(["user", "tenant"], t, 1, ok)
    oracle.assert_never_over_limit()
    oracle.assert_refusals_justified()

    # The documented lower bound on the total (docs/ratelimit.md): cut the run into segments of
    # 2 * (W + b) + g, g the longest gap between requests; with r the last request of a segment,
    # the segment admitted at least L if any request in (r - W - b, r] was refused, else all of
    # them. Upper bound: the guarantee itself, L per closed interval of length W.
    admitted = [t for t, ok in events if ok]
    w, b, limit = USER_WINDOW.window_us, USER_WINDOW.bucket_us, USER_WINDOW.limit
    gap = max(later[0] - earlier[0] for earlier, later in itertools.pairwise(events))
    segment = 2 * (w + b) + gap
    start, span = events[0][0], events[-1][0] - events[0][0]
    lower = 0
    for k in range(span // segment):
        seg_start, seg_end = start + k * segment, start + (k + 1) * segment
        last = max(t for t, _ in events if seg_start <= t < seg_end)
        recent = [ok for t, ok in events if last - w - b < t <= last]
        lower += limit if not all(recent) else min(limit, len(recent))
    upper = limit * math.ceil((span + 1) / w)
    print(f"admitted {len(admitted)} of {len(events)}; bound [{lower}, {upper}]")
    assert lower <= len(admitted) <= upper, (lower, len(admitted), upper)
    assert lower >= limit  # the run was long enough for the bound to say something
    assert len(events) > len(admitted)  # they really were refused along the way
