"""Work held for after the answer starts once the response has been sent, never before."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar.types import Message, Receive, Scope, Send

from shared.platform.after_answer import AfterAnswerMiddleware, after_answer, answer_pending

pytestmark = pytest.mark.anyio


async def test_outside_a_request_the_work_starts_at_once() -> None:
    started: list[str] = []
    after_answer(lambda: started.append("work"))
    assert started == ["work"]


async def test_in_a_request_the_work_starts_after_the_response_is_sent() -> None:
    """The app asks for work after its answer, in a task of its own too (as a screen's parts
    do), then sends the response: the work starts only after the last message is sent."""
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        after_answer(lambda: events.append("work"))
        await asyncio.create_task(_ask_for_work(events))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def send(message: Message) -> None:
        events.append(message["type"])

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    scope: Any = {"type": "http", "path": "/", "method": "GET", "headers": []}
    await AfterAnswerMiddleware(app)(scope, receive, send)

    assert events == ["http.response.start", "http.response.body", "work", "work in a task"]


async def _ask_for_work(events: list[str]) -> None:
    after_answer(lambda: events.append("work in a task"))


async def test_work_asked_for_after_the_answer_starts_at_once() -> None:
    """A background task that outlives its request (a stale entry's refresh) asks after the
    answer was sent: nothing would run its work later, so it runs now."""
    events: list[str] = []
    with answer_pending():
        refresh = asyncio.create_task(_wait_then_ask(events))
    await refresh
    assert events == ["work"]


async def test_a_failed_request_still_starts_its_work() -> None:
    events: list[str] = []
    with pytest.raises(RuntimeError):
        _fail_after_asking(events)
    assert events == ["work"]


def _fail_after_asking(events: list[str]) -> None:
    with answer_pending():
        after_answer(lambda: events.append("work"))
        raise RuntimeError("the handler failed")


async def _wait_then_ask(events: list[str]) -> None:
    await asyncio.sleep(0)
    after_answer(lambda: events.append("work"))
