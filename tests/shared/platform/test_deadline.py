"""The request deadline: monotonic, per context, and never extended by a nested scope."""

from __future__ import annotations

import asyncio

import pytest

from shared.platform.deadline import Deadline, current_deadline, deadline_scope


def test_remaining_counts_down_and_never_goes_negative() -> None:
    deadline = Deadline.after(10)
    assert 9 < deadline.remaining() <= 10
    assert not deadline.expired
    past = Deadline.after(-1)
    assert past.remaining() == 0.0
    assert past.expired


def test_scope_makes_a_deadline_current_and_restores_the_previous() -> None:
    assert current_deadline() is None
    deadline = Deadline.after(5)
    with deadline_scope(deadline) as effective:
        assert effective is deadline
        assert current_deadline() is deadline
    assert current_deadline() is None


def test_nested_scope_can_tighten_but_never_extend() -> None:
    outer = Deadline.after(1)
    with deadline_scope(outer):
        with deadline_scope(Deadline.after(60)) as effective:
            assert effective is outer
        tighter = Deadline.after(0.5)
        with deadline_scope(tighter):
            assert current_deadline() is tighter
        assert current_deadline() is outer


@pytest.mark.anyio
async def test_concurrent_requests_see_only_their_own_deadline() -> None:
    async def serve(seconds: float) -> Deadline | None:
        with deadline_scope(Deadline.after(seconds)) as mine:
            await asyncio.sleep(0.01)
            assert current_deadline() is mine
            return current_deadline()

    first, second = await asyncio.gather(serve(1), serve(2))
    assert first is not second
    assert current_deadline() is None
