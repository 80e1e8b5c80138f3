"""Single flight: a cold key is loaded once, however many callers and instances wait for it.

In a process, one task per key (:class:`SingleFlight`); later callers join it. Across
processes, a short Redis lock per key (:class:`RedisLocks`, redis-py's ``Lock``: ``SET NX PX``,
released only by its owner). An instance that finds the lock taken polls Redis for the value
and loads by itself once the holder is gone or after ``lock_wait_s``, so a crashed holder costs
one bounded wait, never a hang.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any, Final, Generic, TypeVar

from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from shared.cache.entries import Envelope
from shared.cache.health import REDIS_ERRORS, RedisHealth
from shared.platform.logging import get_logger
from shared.platform.redis import RedisClient

R = TypeVar("R")

_POLL_FIRST_S: Final = 0.02
_POLL_MAX_S: Final = 0.2

_log = get_logger("bff.cache")


class Flight(Generic[R]):
    """The one running task of a key in this process; ``discarded`` once invalidated."""

    __slots__ = ("discarded", "task")

    def __init__(self, run: Callable[[Flight[R]], Coroutine[Any, Any, R]]) -> None:
        self.discarded = False
        self.task = asyncio.create_task(run(self))


class SingleFlight(Generic[R]):
    """At most one running task per key; callers that come while it runs share its result."""

    def __init__(self) -> None:
        self._running: dict[str, Flight[R]] = {}

    def join(self, key: str, run: Callable[[Flight[R]], Coroutine[Any, Any, R]]) -> Flight[R]:
        """The running flight of ``key``, or a new one running ``run``."""
        flight = self._running.get(key)
        if flight is None:
            flight = Flight(run)
            self._running[key] = flight
            flight.task.add_done_callback(partial(self._landed, key, flight))
        return flight

    def discard_where(self, matches: Callable[[str], bool]) -> None:
        """Later callers of these keys start afresh; the running tasks learn they are void."""
        for key in [key for key in self._running if matches(key)]:
            self._running.pop(key).discarded = True

    def tasks(self) -> list[asyncio.Task[R]]:
        return [flight.task for flight in self._running.values()]

    def _landed(self, key: str, flight: Flight[R], task: asyncio.Task[R]) -> None:
        if self._running.get(key) is flight:
            del self._running[key]
        # Mark a finished task's error as seen: its waiters got it, or (a background refresh)
        # no one waits for it; either way asyncio must not report it as lost.
        if not task.cancelled():
            task.exception()


class RedisLocks:
    """The lock that lets one instance load a key while the others wait for its value."""

    def __init__(
        self, redis: RedisClient, *, ttl_ms: int, wait_s: float, health: RedisHealth, name: str
    ) -> None:
        self._redis = redis
        self._ttl_s = ttl_ms / 1000
        self._wait_s = wait_s
        self._health = health
        self._name = name

    async def take_or_wait(
        self, lock_name: str, read_ready: Callable[[], Awaitable[Envelope | None]]
    ) -> tuple[Lock | None, Envelope | None]:
        """Take the lock, or wait for the instance holding it to store the value.

        ``read_ready`` reads the value if it is servable. ``(None, None)`` means load without
        the lock: Redis failed, or the holder did not finish within ``lock_wait_s``. A holder
        that died leaves a lock that expires after ``lock_ttl_ms``; the next poll then takes it.
        The wait is real time spent in ``asyncio.sleep``, so the event loop's clock measures it.
        """
        lock = Lock(self._redis, lock_name, timeout=self._ttl_s, thread_local=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        delay = _POLL_FIRST_S
        try:
            while True:
                if await lock.acquire(blocking=False):
                    ready = await read_ready()
                    if ready is not None:  # stored by another instance since our first read
                        await self.release(lock)
                        return None, ready
                    return lock, None
                if loop.time() + delay > deadline:
                    return None, None
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, _POLL_MAX_S)
                ready = await read_ready()
                if ready is not None:
                    return None, ready
        except REDIS_ERRORS as exc:
            self._health.failed(exc)
            return None, None

    async def release(self, lock: Lock) -> None:
        try:
            await lock.release()  # a Lua check-and-delete: only our own token is removed
        except LockError:
            _log.warning("cache_lock_expired_before_release", cache=self._name)
        except REDIS_ERRORS as exc:
            self._health.failed(exc)
