"""Work that nobody waits for, held back until the request's answer has been sent.

A cold screen stores what it loaded in Redis, and releases the loads' locks, behind its answer
(``shared.cache``). Started at once, those round trips took turns on the event loop with the
answer itself: their sends and replies ran between the steps that build and send the
response, which came later by as much. ``AfterAnswerMiddleware`` gives each request a place
for such work; :func:`after_answer` puts a start there, and the middleware runs the starts once
the app has sent the response (or failed to). Outside a request, or once the answer is gone
(a background refresh that outlives its request), a start runs at once.

The starts only create tasks; the work itself stays bounded by its own timeouts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

Start = Callable[[], object]


class _Held:
    """The starts of one request, until its answer has been sent."""

    __slots__ = ("answered", "starts")

    def __init__(self) -> None:
        self.starts: list[Start] = []
        self.answered = False

    def add(self, start: Start) -> None:
        if self.answered:
            start()
        else:
            self.starts.append(start)

    def run(self) -> None:
        self.answered = True
        starts, self.starts = self.starts, []
        for start in starts:
            start()


_held: ContextVar[_Held | None] = ContextVar("bff_after_answer", default=None)


def after_answer(start: Start) -> None:
    """Call ``start`` once the current request's answer has been sent; now outside a request."""
    held = _held.get()
    if held is None:
        start()
    else:
        held.add(start)


@contextmanager
def answer_pending() -> Iterator[None]:
    """Hold the starts made inside (and in the tasks started inside) until the block ends."""
    held = _Held()
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
        held.run()


class AfterAnswerMiddleware:
    """Pure ASGI: the app's response is sent when it returns; the held work starts then."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:  # a websocket lasts as long as it is open
            await self.app(scope, receive, send)
            return
        with answer_pending():
            await self.app(scope, receive, send)
