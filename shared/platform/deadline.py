"""The request's deadline, visible to every core call made while serving it.

A screen has one time budget. Rather than thread a timeout through every function, the gateway
opens a ``deadline_scope`` when a request starts; ``core_clients`` reads ``current_deadline()``
to bound each call and to tell the core service how long it has (``X-Deadline-Ms``). The value
lives in a ``ContextVar``, so tasks started inside the scope (``shared.screens.gather``) inherit
it and concurrent requests never see each other's.

Times are ``time.monotonic()`` seconds: wall-clock jumps must not stretch or cut a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Deadline", "current_deadline", "deadline_scope"]


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point in monotonic time after which the work is no longer wanted."""

    expires_at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.expires_at - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.expires_at

    def earliest(self, other: Deadline | None) -> Deadline:
        """The tighter of the two; ``None`` means no other limit."""
        if other is None or self.expires_at <= other.expires_at:
            return self
        return other


_current: ContextVar[Deadline | None] = ContextVar("bff_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline of the request being served here, or ``None`` outside of one."""
    return _current.get()


@contextmanager
def deadline_scope(deadline: Deadline) -> Iterator[Deadline]:
    """Make ``deadline`` current for the block; yields the deadline in force.

    A nested scope can only tighten: if an enclosing scope ends sooner, that one stays in force,
    so no code path can give itself more time than the request has.
    """
    effective = deadline.earliest(_current.get())
    token = _current.set(effective)
    try:
        yield effective
    finally:
        _current.reset(token)
