"""The two-level cache for screen data: stale-while-revalidate, stale-if-error, single flight.

Level 1 is a small LRU in this process, level 2 is Redis, shared by every instance. Shared
data (products) lives under ``CacheKey.shared`` keys, a user's data under ``Cache.user_key``
keys, so no cached answer can reach another user. Imports only ``shared.platform``.

    cache.py        Cache: lookups, loads, invalidation, telemetry
    keys.py         CacheKey, per-user keys (a keyed hash of the user), Redis names
    entries.py      the stored envelope, remembered errors, freshness
    local.py        level 1, the in-process LRU
    generations.py  a user's generations read with their session: their entries in level 1
    redis_level.py  level 2: Redis reads, writes, user generations
    flight.py       single flight in a process (tasks) and across processes (Redis locks)
    health.py       Redis back-off after a failure
    results.py      CacheResult, CacheStats
"""

from shared.cache.cache import Cache
from shared.cache.entries import MAX_LIFETIME_S, NegativeExceptions
from shared.cache.keys import CacheKey, KeyPart
from shared.cache.results import CacheResult, CacheStats, CacheStatus

__all__ = [
    "MAX_LIFETIME_S",
    "Cache",
    "CacheKey",
    "CacheResult",
    "CacheStats",
    "CacheStatus",
    "KeyPart",
    "NegativeExceptions",
]
