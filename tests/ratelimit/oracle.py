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

    def exact_fit_at(self, now_us: int, cost: int) -> int | None:
        """The exact sliding window's answer: the earliest instant from ``now`` at which no closed
        interval of the window's length ending then holds more than ``limit - cost`` (``None``:
        never, the cost exceeds the limit)."""
        window, limit = self.window.window_us, self.window.limit
        if cost > limit:
            return None
        live = sorted((t, c) for t, c in self.admitted if t >= now_us - window)
        used = sum(c for _, c in live)
        if used + cost <= limit:
            return now_us
        for t, c in live:
            used -= c
            if used + cost <= limit:
                return t + window + 1  # the first instant t is outside [at - window, at]
        raise AssertionError("unreachable: removing every admission always fits the cost")

    def settle(self, reserved_at: int, reserved: int, actual: int, now_us: int) -> None:
        """Replace a reservation of ``reserved`` at ``reserved_at`` by the ``actual`` cost: a refund
        lowers the reservation, an extra charge is an admission at ``now``."""
        index = self.admitted.index((reserved_at, reserved))
        kept = min(reserved, actual)
        self.admitted[index] = (reserved_at, kept)
        if actual > reserved:
            self.admitted.append((now_us, actual - reserved))

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

    def assert_retry_precise(self, names: list[str], now_us: int, cost: int, retry: float) -> None:
        """A refusal's retry time is never earlier than the exact answer, and at most one bucket
        of the counter that decides it later (the documented precision)."""
        exact = [self.counters[n].exact_fit_at(now_us, cost) for n in names]
        if any(at is None for at in exact):
            return  # the cost never fits: the retry is the window length, nothing to compare
        fits = [at for at in exact if at is not None]
        retry_us = retry * 1_000_000
        earliest = max(fits)
        latest = max(
            max(at, now_us) + self.counters[n].window.bucket_us
            for n, at in zip(names, fits, strict=True)
        )
        assert earliest - now_us - 1 <= retry_us, (names, now_us, cost, retry, earliest)
        assert retry_us <= latest - now_us + 1, (names, now_us, cost, retry, latest)

    def assert_never_over_limit(self) -> None:
        for name, log in self.counters.items():
            worst = log.worst_interval()
            assert worst <= log.window.limit, (
                f"{name}: {worst} admitted within {log.window.window_us}us, limit {log.window.limit}"
            )

    def assert_refusals_justified(self, slack: int = 0) -> None:
        """The documented under-admission bound: a refusal means some counter of the request had
        more than ``limit - cost - slack`` admitted within the last window plus one bucket
        (``slack``: budget other holders may keep leased, ``n * s_max`` with quota leasing)."""
        for now, cost, names in self.refusals:
            justified = [
                n
                for n in names
                if self.counters[n].used_since(
                    now - self.counters[n].window.window_us - self.counters[n].window.bucket_us, now
                )
                + cost
                + slack
                > self.counters[n].window.limit
            ]
            assert justified, f"refusal at {now}us (cost {cost}) not justified by any of {names}"
