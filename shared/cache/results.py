"""What a lookup tells its caller, and the counters of a cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

T = TypeVar("T")

CacheStatus = Literal["hit", "miss", "stale", "stale_error"]
"""``hit`` fresh; ``miss`` loaded for this lookup; ``stale`` served while one background load
refreshes it; ``stale_error`` served because the last refresh failed."""


@dataclass(frozen=True, slots=True)
class CacheResult(Generic[T]):
    """A value and how it was obtained, for a response header or span attribute.

    ``degraded`` is true while Redis is configured but unreachable: the answer then came from
    this process alone (passed through to the loader, or from level 1).
    """

    value: T
    status: CacheStatus
    degraded: bool = False


@dataclass
class CacheStats:
    """Plain counters until the cache reports OpenTelemetry metrics."""

    hits: int = 0
    misses: int = 0
    stale: int = 0
    stale_errors: int = 0
    negative_hits: int = 0
    loads: int = 0  # loader calls made by this instance
    redis_failures: int = 0
    redis_pool_exhausted: int = 0  # Redis skipped for a call: all pooled connections were busy

    def count(self, status: CacheStatus) -> None:
        if status == "hit":
            self.hits += 1
        elif status == "miss":
            self.misses += 1
        elif status == "stale":
            self.stale += 1
        else:
            self.stale_errors += 1
