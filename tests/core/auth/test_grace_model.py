"""The grace window as an invariant: any sequence of presentations and clock moves gives, on
memory and on real Redis, the outcomes of a five-line model."""

from __future__ import annotations

import asyncio
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relaypoint_core.auth import RotationOutcome, create_token_store
from relaypoint_core.testing import FakeClock
from tests.conftest import BackendTarget

GRACE = 10.0
# (index of the token presented, counted back from the newest: 0 = current, 1 = the one before...,
#  seconds the clock moves first)
steps = st.lists(
    st.tuples(st.integers(min_value=0, max_value=2), st.sampled_from([0.0, 3.0, 9.5, 11.0])),
    min_size=1,
    max_size=8,
)


def _expected(
    back: int, now: float, rotated_at: float | None, revoked: bool, chain_length: int
) -> RotationOutcome:
    if revoked:
        return RotationOutcome.REVOKED
    if back == 0:
        return RotationOutcome.ROTATED
    if back == 1 and chain_length > 1 and rotated_at is not None and now < rotated_at + GRACE:
        return RotationOutcome.GRACE
    return RotationOutcome.REUSED


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=steps)
def test_rotation_outcomes_follow_the_model(
    backend: BackendTarget, plan: list[tuple[int, float]]
) -> None:
    asyncio.run(_run(backend, plan))


async def _run(backend: BackendTarget, plan: list[tuple[int, float]]) -> None:
    clock = FakeClock()
    store = create_token_store(backend.url, key_prefix=backend.key_prefix, clock=clock)
    family = uuid.uuid4().hex
    chain = ["t0"]
    rotated_at: float | None = None
    revoked = False
    try:
        await store.create_family("acme", family, token_id="t0", ttl=3600, user_id="u")
        for back, wait in plan:
            clock.advance(wait)
            presented = chain[max(0, len(chain) - 1 - back)] if back < len(chain) else chain[0]
            effective_back = len(chain) - 1 - chain.index(presented)
            expected = _expected(effective_back, clock.time(), rotated_at, revoked, len(chain))
            new = f"t{len(chain)}"
            rotation = await store.rotate_with_grace(
                "acme",
                family,
                presented_token_id=presented,
                new_token_id=new,
                ttl=3600,
                grace=GRACE,
                replay=new.encode(),
                user_id="u",
            )
            assert rotation.outcome is expected, (plan, presented, chain)
            if expected is RotationOutcome.ROTATED:
                chain.append(new)
                rotated_at = clock.time()
            elif expected is RotationOutcome.GRACE:
                assert rotation.replay == chain[-1].encode()
            elif expected is RotationOutcome.REUSED:
                revoked = True
    finally:
        await store.aclose()
