"""`EpochGate.due` says exactly when `EpochGate.changed` would poll the epoch."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from relaypoint_core.auth.freshness import EpochGate
from relaypoint_core.testing import FakeClock


class _Epochs:
    """A real epoch source in memory: counts reads, moves when told."""

    def __init__(self) -> None:
        self.value = 0
        self.reads = 0

    async def read(self) -> int:
        self.reads += 1
        return self.value


async def test_due_at_exactly_the_interval() -> None:
    clock, epochs = FakeClock(), _Epochs()
    gate = EpochGate(epochs.read, clock=clock, interval=1.0)
    assert gate.due()
    assert not await gate.changed()
    assert not gate.due()
    clock.advance(0.5)
    assert not gate.due()
    clock.advance(0.5)
    assert gate.due()
    epochs.value = 1
    assert await gate.changed()
    gate.expire()
    assert gate.due()


@settings(max_examples=100)
@given(steps=st.lists(st.tuples(st.floats(0, 3), st.booleans()), max_size=20))
async def test_property_due_predicts_whether_changed_reads(
    steps: list[tuple[float, bool]],
) -> None:
    clock, epochs = FakeClock(), _Epochs()
    gate = EpochGate(epochs.read, clock=clock, interval=1.0)
    for advance, bump in steps:
        clock.advance(advance)
        epochs.value += bump
        due, before = gate.due(), epochs.reads
        await gate.changed()
        assert (epochs.reads > before) == due
