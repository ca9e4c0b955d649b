"""The run's CPU slots are shared fairly between Pythons (no containers needed)."""

from __future__ import annotations

from wheelhub.build.schedule import CpuSlots


def test_a_python_holding_fewer_slots_is_served_first() -> None:
    slots = CpuSlots(count=2)
    assert slots.take("cp311", timeout=0.01)
    assert slots.take("cp311", timeout=0.01)  # nobody else asks: both slots
    assert not slots.take("cp312", timeout=0.01)  # none free; cp312 keeps asking
    slots.give("cp311")
    assert not slots.take("cp311", timeout=0.01)  # cp312 holds fewer and asks
    assert slots.take("cp312", timeout=0.01)
    assert not slots.take("cp312", timeout=0.01)  # all taken again


def test_a_python_that_stops_asking_no_longer_holds_others_back() -> None:
    slots = CpuSlots(count=2)
    assert slots.take("cp311", timeout=0.01)
    assert slots.take("cp312", timeout=0.01)  # a free slot
    slots.give("cp312")
    assert slots.take("cp311", timeout=0.01)
    assert not slots.take("cp312", timeout=0.01)
    slots.stop_asking("cp312")
    slots.give("cp311")
    assert slots.take("cp311", timeout=0.01)  # cp312 asks no more
