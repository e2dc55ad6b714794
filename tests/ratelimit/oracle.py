"""A brute-force model of the rate limiter, used as the oracle of the property tests.

It keeps the exact log of admitted (time, cost) per counter and answers two questions by
scanning it: what the bucketed sliding window must decide, and whether any interval of a
window's length ever held more than the limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from relaypoint_ratelimit.policies import Window


@dataclass
class CounterLog:
    window: Window
    admitted: list[tuple[int, int]] = field(default_factory=list)

    def live_used(self, now_us: int) -> int:
        """What the algorithm counts at ``now``: every admission in a bucket that can overlap."""
        bucket = self.window.bucket_us
        low = (now_us - self.window.window_us) // bucket
        return sum(cost for t, cost in self.admitted if t // bucket >= low)

    def used_since(self, start_exclusive: int, end_inclusive: int) -> int:
        return sum(cost for t, cost in self.admitted if start_exclusive < t <= end_inclusive)

    def worst_interval(self) -> int:
        """The most cost admitted in any closed interval of the window's length."""
        times = sorted(self.admitted)
        worst = 0
        for i, (start, _) in enumerate(times):
            total = 0
            for t, cost in times[i:]:
                if t - start > self.window.window_us:
                    break
                total += cost
            worst = max(worst, total)
        return worst


class Oracle:
    """Counters by name; ``expect`` says what the model decides, ``record`` logs an admission."""

    def __init__(self) -> None:
        self.counters: dict[str, CounterLog] = {}
        self.refusals: list[tuple[int, int, list[str]]] = []

    def counter(self, name: str, window: Window) -> CounterLog:
        log = self.counters.get(name)
        if log is None:
            log = self.counters[name] = CounterLog(window)
        return log

    def expect(self, names: list[str], now_us: int, cost: int) -> bool:
        return all(
            self.counters[n].live_used(now_us) + cost <= self.counters[n].window.limit
            for n in names
        )

    def record(self, names: list[str], now_us: int, cost: int, admitted: bool) -> None:
        if admitted:
            for name in names:
                self.counters[name].admitted.append((now_us, cost))
        else:
            self.refusals.append((now_us, cost, names))

    def assert_never_over_limit(self) -> None:
        for name, log in self.counters.items():
            worst = log.worst_interval()
            assert worst <= log.window.limit, (
                f"{name}: {worst} admitted within {log.window.window_us}us, limit {log.window.limit}"
            )

    def assert_refusals_justified(self) -> None:
        """The documented under-admission bound: a refusal means some counter of the request had
        more than ``limit - cost`` admitted within the last window plus one bucket."""
        for now, cost, names in self.refusals:
            justified = [
                n
                for n in names
                if self.counters[n].used_since(
                    now - self.counters[n].window.window_us - self.counters[n].window.bucket_us, now
                )
                + cost
                > self.counters[n].window.limit
            ]
            assert justified, f"refusal at {now}us (cost {cost}) not justified by any of {names}"
