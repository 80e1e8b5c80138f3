"""Work done once across instances: a Redis lock (``SET NX PX``, via redis-py's ``Lock``) held
around it, whose waiters then find the result instead of doing the work again.

Used where one call to the IdP must serve every instance: a session's token refresh
(``shared.identity.idp_tokens``) and the gateway's client-credentials token
(``shared.remote.client_tokens``). The lock's timeout is longer than a slow call, so a crashed
holder frees it; a waiter gives up after its wait (``LockBusy``). Without Redis, or with Redis
unreachable, the block runs unlocked: each process still does the work once for itself, which
is the most that can be had without a shared store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.exceptions import LockError, RedisError

from shared.platform.logging import get_logger
from shared.platform.redis import RedisClient

_logger = get_logger("bff.locks")


class LockBusy(Exception):
    """Another instance held the lock for longer than this one could wait."""


@asynccontextmanager
async def held_across_instances(
    redis: RedisClient | None, name: str, *, timeout_s: float, wait_s: float, purpose: str
) -> AsyncIterator[None]:
    """Run the block holding the lock ``name``; ``purpose`` names it in the log lines."""
    if redis is None:
        yield
        return
    lock = redis.lock(name, timeout=timeout_s, blocking_timeout=wait_s, sleep=0.05)
    try:
        acquired = await lock.acquire()
    except RedisError:
        _logger.warning(f"{purpose}_lock_unavailable")
        acquired = None
    if acquired is False:
        raise LockBusy()
    try:
        yield
    finally:
        if acquired:
            try:
                await lock.release()
            except (LockError, RedisError):
                _logger.warning(f"{purpose}_lock_release_failed")
