"""Whether the cache uses Redis right now.

When Redis fails (refused, timeout, any Redis error) the cache passes through to the loaders,
still single-flighted in this process, logs ``cache_redis_unavailable`` once, counts the
failure in ``stats``, and leaves Redis alone for ``redis_backoff_s`` instead of paying a timeout
per request. The first success after that logs ``cache_redis_recovered``. A client pool with
no free connection is not an outage: that one call skips Redis, with no back-off.
"""

from __future__ import annotations

from typing import Final

from redis.exceptions import MaxConnectionsError, RedisError

from shared.cache.results import CacheStats
from shared.platform import metrics as bff_metrics
from shared.platform.clock import Clock
from shared.platform.logging import get_logger

REDIS_ERRORS: Final = (RedisError, OSError)  # OSError covers socket errors and TimeoutError

_log = get_logger("bff.cache")


class RedisHealth:
    """Redis's state as this cache saw it last, with the back-off after a failure."""

    def __init__(self, name: str, *, backoff_s: float, clock: Clock, stats: CacheStats) -> None:
        self._name = name
        self._attributes = {"bff.cache.name": name}
        self._backoff_s = backoff_s
        self._clock = clock
        self._stats = stats
        self._retry_at = 0.0
        self.up = True

    def usable(self) -> bool:
        """False while backing off after a failure."""
        return self._clock.monotonic() >= self._retry_at

    def failed(self, exc: BaseException) -> None:
        if isinstance(exc, MaxConnectionsError):
            # This process is busy, Redis is fine: skip Redis for this call only; backing off
            # would send every request to the core services for redis_backoff_s.
            self._stats.redis_pool_exhausted += 1
            return
        self._stats.redis_failures += 1
        bff_metrics.CACHE_REDIS_ERRORS.add(1, self._attributes)
        self._retry_at = self._clock.monotonic() + self._backoff_s
        if self.up:
            self.up = False
            bff_metrics.CACHE_REDIS_AVAILABLE.set(0, self._attributes)
            _log.warning("cache_redis_unavailable", cache=self._name, error=type(exc).__name__)

    def ok(self) -> None:
        if not self.up:
            self.up = True
            bff_metrics.CACHE_REDIS_AVAILABLE.set(1, self._attributes)
            _log.info("cache_redis_recovered", cache=self._name)
