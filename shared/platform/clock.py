"""Time, injectable: the system clock in production, a clock the test moves in tests.

Code that decides by time (session expiry, one-time code lifetimes, token refresh windows,
breakers, cache freshness) asks a ``Clock`` instead of the ``time`` module, so a test can make
ten minutes pass without waiting for them.

* ``time()`` is wall-clock epoch seconds: for what is stored and compared across instances
  (a session's expiry, when a cached value was loaded).
* ``monotonic()`` never jumps: for durations inside one process (a breaker's open period).
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def time(self) -> float: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock."""

    __slots__ = ()

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK = SystemClock()
