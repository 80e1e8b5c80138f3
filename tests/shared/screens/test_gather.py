"""A screen's parts run concurrently under one deadline; optional parts degrade, required fail."""

from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Any

import pytest
from structlog.testing import capture_logs

from shared.platform.deadline import Deadline, current_deadline
from shared.platform.errors import (
    CoreBadResponse,
    CoreError,
    CoreNotFound,
    CoreRejected,
    CoreTimeout,
    CoreUnavailable,
)
from shared.screens.gather import GatherResult, OptionalPart, Part, gather_parts

pytestmark = pytest.mark.anyio


def value(result: Any, delay: float = 0.0) -> Any:
    async def produce() -> Any:
        await asyncio.sleep(delay)
        return result

    return produce


def failing(error: Exception, delay: float = 0.0) -> Any:
    async def fail() -> Any:
        await asyncio.sleep(delay)
        raise error

    return fail


class Straggler:
    """A part that would take far too long, and records whether it was cancelled."""

    def __init__(self) -> None:
        self.cancelled = False

    async def __call__(self) -> Any:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return "too late"


async def test_all_parts_succeed_concurrently() -> None:
    """Each part waits for the other: run one after another, they could never finish."""
    both_running = asyncio.Barrier(2)

    def meeting(result: str) -> Any:
        async def meet() -> str:
            await both_running.wait()
            return result

        return meet

    account, orders = Part("account", meeting("a")), OptionalPart("orders", meeting("o"))
    result = await gather_parts([account, orders], deadline=Deadline.after(5))
    assert (result.of(account), result.of(orders)) == ("a", "o")
    assert result.degraded == []


async def test_optional_failure_is_degraded_and_logged_without_the_message() -> None:
    """If recommendations are down, the screen still answers, without them."""
    account = Part("account", value("a"))
    recommendations = OptionalPart(
        "recommendations", failing(CoreUnavailable("recommendations", "token=abc"))
    )
    with capture_logs() as logs:
        result = await gather_parts([account, recommendations], deadline=Deadline.after(2))
    assert result.of(account) == "a"
    assert result.of(recommendations) is None
    assert result.degraded == ["recommendations"]
    assert logs == [
        {
            "event": "part_degraded",
            "part": "recommendations",
            "error": "CoreUnavailable",
            "log_level": "warning",
        }
    ]


async def test_any_exception_of_an_optional_part_degrades() -> None:
    parts = [Part("a", value(1)), OptionalPart("b", failing(KeyError("bug")))]
    result = await gather_parts(parts, deadline=Deadline.after(2))
    assert result.degraded == ["b"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (CoreBadResponse("catalog"), 502),
        (CoreRejected("orders"), 502),
        (CoreUnavailable("accounts"), 503),
        (CoreTimeout("accounts"), 504),
        (CoreNotFound("catalog"), 404),
    ],
)
async def test_required_failure_fails_the_screen_with_its_status(
    error: CoreError, status: int
) -> None:
    parts = [Part("main", failing(error)), OptionalPart("side", value("s"))]
    with pytest.raises(CoreError) as caught:
        await gather_parts(parts, deadline=Deadline.after(2))
    assert caught.value is error
    assert caught.value.status == status


async def test_bare_timeout_in_a_required_part_is_a_504() -> None:
    parts = [Part("main", failing(TimeoutError()))]
    with pytest.raises(CoreTimeout) as caught:
        await gather_parts(parts, deadline=Deadline.after(2))
    assert caught.value.status == 504


async def test_a_bug_in_a_required_part_is_not_disguised() -> None:
    parts = [Part("main", failing(ZeroDivisionError()))]
    with pytest.raises(ZeroDivisionError):
        await gather_parts(parts, deadline=Deadline.after(2))


async def test_required_failure_cancels_the_other_parts_at_once() -> None:
    straggler = Straggler()
    parts = [
        OptionalPart("slow", straggler),
        Part("main", failing(CoreUnavailable("accounts"), delay=0.01)),
    ]
    started = time.monotonic()
    with pytest.raises(CoreUnavailable):
        await gather_parts(parts, deadline=Deadline.after(10))
    assert time.monotonic() - started < 2.0
    assert straggler.cancelled


async def test_optional_straggler_is_cancelled_at_the_deadline_and_degraded() -> None:
    straggler = Straggler()
    account, recommendations = (
        Part("account", value("a")),
        OptionalPart("recommendations", straggler),
    )
    started = time.monotonic()
    with capture_logs() as logs:
        result = await gather_parts([account, recommendations], deadline=Deadline.after(0.2))
    assert time.monotonic() - started < 2.0
    assert straggler.cancelled
    assert (result.of(account), result.of(recommendations)) == ("a", None)
    assert result.degraded == ["recommendations"]
    assert logs[0]["part"] == "recommendations"


async def test_required_straggler_is_a_504_at_the_deadline() -> None:
    straggler = Straggler()
    parts = [Part("account", straggler), OptionalPart("orders", value("o"))]
    with pytest.raises(CoreTimeout) as caught:
        await gather_parts(parts, deadline=Deadline.after(0.2))
    assert straggler.cancelled
    assert caught.value.service == "account"


async def test_degraded_lists_parts_in_the_order_given() -> None:
    ok = Part("ok", value(1))
    parts = [
        OptionalPart("late", failing(CoreUnavailable("x"), delay=0.05)),
        ok,
        OptionalPart("timed_out", Straggler()),
        OptionalPart("early", failing(CoreBadResponse("y"))),
    ]
    result = await gather_parts(parts, deadline=Deadline.after(0.2))
    assert result.degraded == ["late", "timed_out", "early"]
    assert result.of(ok) == 1


async def test_parts_see_the_deadline_and_may_be_plain_awaitables() -> None:
    deadline = Deadline.after(2)

    async def seen() -> Deadline | None:
        return current_deadline()

    by_function, by_awaitable = Part("d", seen), Part("c", seen())
    result = await gather_parts([by_function, by_awaitable], deadline=deadline)
    assert result.of(by_function) == result.of(by_awaitable) == deadline


async def test_part_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        await gather_parts([Part("a", value(1)), Part("a", value(2))], deadline=Deadline.after(1))


async def test_already_expired_deadline_degrades_optional_parts_without_running_them() -> None:
    ran = False

    async def part() -> int:
        nonlocal ran
        ran = True
        return 1

    result = await gather_parts(
        [OptionalPart("f", part), OptionalPart("c", part())],
        deadline=Deadline.after(-1),
    )
    assert result.degraded == ["f", "c"]
    assert not ran


async def test_a_result_answers_only_for_its_own_parts() -> None:
    """Reading a part that was not in this gather is a bug, not a missing section."""
    gathered, elsewhere = Part("a", value(1)), OptionalPart("b", value(2))
    result = await gather_parts([gathered], deadline=Deadline.after(1))
    assert result.of(gathered) == 1
    with pytest.raises(LookupError, match="'b'"):
        result.of(elsewhere)
    with pytest.raises(LookupError, match="'a'"):
        GatherResult({}, []).of(gathered)


def test_parts_say_whether_they_are_required() -> None:
    assert Part("a", value(1)).required is True
    assert OptionalPart("b", value(1)).required is False


async def test_what_a_part_sets_in_its_context_stays_in_its_own() -> None:
    """Each part runs in a copy of the caller's context: what one sets, no other part and not
    the caller sees."""
    mark: contextvars.ContextVar[str] = contextvars.ContextVar("mark", default="unset")
    mark.set("caller")
    seen: dict[str, str] = {}

    def marking(name: str) -> Any:
        async def part() -> str:
            seen[name] = mark.get()
            mark.set(name)
            await asyncio.sleep(0.01)
            return mark.get()

        return part

    parts = [Part("a", marking("a")), Part("b", marking("b"))]
    result = await gather_parts(parts, deadline=Deadline.after(2))
    assert (result.of(parts[0]), result.of(parts[1])) == ("a", "b")
    assert seen == {"a": "caller", "b": "caller"}
    assert mark.get() == "caller"


async def test_a_timeout_inside_a_part_cuts_that_part_alone() -> None:
    async def timed() -> str:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(5)
        except TimeoutError:
            return "timed out alone"
        return "not cut"

    parts = [Part("timed", timed), Part("other", value("o", delay=0.05))]
    result = await gather_parts(parts, deadline=Deadline.after(2))
    assert result.of(parts[0]) == "timed out alone"
    assert result.of(parts[1]) == "o"
