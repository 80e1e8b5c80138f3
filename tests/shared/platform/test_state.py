"""State slots: filled with the declared type only, and read loudly when empty."""

from __future__ import annotations

import pytest
from litestar.datastructures import State

from shared.platform.clock import SYSTEM_CLOCK, Clock
from shared.platform.state import StateSlot


def test_a_slot_holds_only_its_type_and_refuses_a_read_before_it_is_filled() -> None:
    slot: StateSlot[Clock] = StateSlot("clock", Clock)  # type: ignore[type-abstract]
    state = State()
    with pytest.raises(RuntimeError, match="'clock' is not filled"):
        slot.get(state)
    with pytest.raises(TypeError, match="'clock' holds a Clock"):
        slot.fill(state, object())  # type: ignore[arg-type]

    slot.fill(state, SYSTEM_CLOCK)
    assert slot.get(state) is SYSTEM_CLOCK

    slot.clear(state)
    with pytest.raises(RuntimeError, match="'clock' is not filled"):
        slot.get(state)
