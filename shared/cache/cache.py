"""``Cache``: the two levels put together, with stale-while-revalidate and stale-if-error.

Level 1 is a small LRU in this process (``local``); level 2 is Redis, shared by every instance.
A shared entry in level 1 is served for up to ``local_ttl``; a user's, only to a request that
read the user's generations with its session (``generations``), under the same generation.
Without a Redis client (the one-process dev setup) level 1 is the whole cache. A lookup finds
the entry, judges it by its age (``entries``) and, when it must, loads it once (``flight``)::

    "hit"          fresh: served as is
    "stale"        served at once; refreshed once in the background
    "stale_error"  stale, served instead of an error while the last refresh failed
    "miss"         loaded once, however many callers wait

Redis I/O and the invalidation of a user's kinds on every instance live in ``redis_level``;
when Redis fails the cache passes through to the loaders (``health``).

Time comes from the injected ``Clock``: wall time for an entry's age (every instance reads
it), monotonic time for level 1, retry pauses and the Redis back-off.

Telemetry: each lookup is a ``cache.lookup {kind}`` span, or an event of that name when level 1
answers it fresh (``lookup_trace``). The loader's core calls hang under the span of the lookup
that started the load. ``bff.cache.lookups`` counts outcomes per cache and
kind; Redis trouble shows in ``bff.cache.redis.errors`` and ``bff.cache.redis.available``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, TypeVar

import msgspec
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.lock import Lock

from shared.cache.entries import Envelope, Freshness, NegativeExceptions, value_envelope
from shared.cache.flight import Flight, SingleFlight
from shared.cache.generations import GenerationsRider, SessionUsers, known_generation
from shared.cache.health import RedisHealth
from shared.cache.keys import CacheKey, KeyPart, RedisNames, UserKeys, check_name
from shared.cache.local import LocalEntries, Lru
from shared.cache.lookup_trace import (
    describe_outcome,
    lookup_attributes,
    lookup_name,
    note_held_hit,
)
from shared.cache.redis_level import ReadUnderLock, RedisLevel
from shared.cache.results import CacheResult, CacheStats, CacheStatus
from shared.platform import metrics as bff_metrics
from shared.platform.clock import SYSTEM_CLOCK, Clock
from shared.platform.keys import KeyedHasher
from shared.platform.logging import get_logger
from shared.platform.redis import RedisClient
from shared.platform.telemetry import child_span

T = TypeVar("T")

_REFRESH_RETRY_S: Final = 1.0  # after a failed refresh, serve "stale_error" this long

_log = get_logger("bff.cache")


@dataclass(frozen=True, slots=True)
class _Found:
    name: str  # Redis (and level 1) name of the value
    envelope: Envelope | None
    generation: str | None  # None: Redis is configured but was not usable for this lookup

    @property
    def flight_key(self) -> str:
        # With the generation in it, a caller arriving after an invalidation on another
        # instance never joins a load that began before it.
        return f"{self.name}#{'-' if self.generation is None else self.generation}"


@dataclass(frozen=True, slots=True)
class _Outcome:
    envelope: Envelope
    status: CacheStatus


@dataclass(slots=True)
class _HeldLock:
    """The load's Redis lock while this lookup still has to release it."""

    lock: Lock | None = None


@dataclass(frozen=True, slots=True)
class _Load:
    """One lookup's load: what it is for and how to do it."""

    key: CacheKey
    found: _Found
    loader: Callable[[], Awaitable[Any]]
    freshness: Freshness
    stale: Envelope | None  # the entry served meanwhile, for a background refresh


class Cache:
    """See the module docstring. One per gateway process, made in the lifespan."""

    def __init__(
        self,
        redis: RedisClient | None,
        *,
        hasher: KeyedHasher,
        clock: Clock = SYSTEM_CLOCK,
        local_max_entries: int = 10_000,
        local_ttl: float = 1.0,
        lock_ttl_ms: int = 5_000,
        lock_wait_s: float = 2.0,
        redis_backoff_s: float = 5.0,
        negative_exceptions: NegativeExceptions = (),
        name: str = "default",
    ) -> None:
        self._users = UserKeys(hasher)
        self._clock = clock
        self._local = LocalEntries(local_max_entries)
        self._local_ttl = local_ttl
        self._negative_exceptions = negative_exceptions
        self._name = check_name(name)
        self._names = RedisNames(f"bff:cache:{name}")
        self._flights: SingleFlight[_Outcome] = SingleFlight()
        self._failed_refreshes: Lru[float] = Lru(local_max_entries)
        self.stats = CacheStats()
        self._lookups = bff_metrics.CacheLookups(self._name)
        self._health = RedisHealth(name, backoff_s=redis_backoff_s, clock=clock, stats=self.stats)
        self._redis: RedisLevel | None = None
        self._sessions: SessionUsers | None = None
        if redis is not None and not isinstance(redis, RedisCluster):
            self._sessions = SessionUsers(self._users, self._names)
        if redis is not None:
            self._redis = RedisLevel(
                redis,
                self._names,
                health=self._health,
                lock_ttl_ms=lock_ttl_ms,
                lock_wait_s=lock_wait_s,
                cache_name=name,
            )
            bff_metrics.CACHE_REDIS_AVAILABLE.set(1, {"bff.cache.name": self._name})

    def generations_rider(self) -> GenerationsRider | None:
        """A rider for a request's session read, bringing its user's generations along
        (``generations``); None without Redis, or on a Cluster, where they sit on another node
        than the session."""
        return None if self._sessions is None else self._sessions.rider()

    def user_key(self, sub: str, kind: str, *parts: KeyPart) -> CacheKey:
        """A key for one user's data; the user's ``sub`` appears in it only as a keyed hash."""
        return self._users.key(sub, kind, *parts)

    async def get_or_load(
        self,
        key: CacheKey,
        loader: Callable[[], Awaitable[T]],
        *,
        ttl: float,
        stale_ttl: float,
        type: type[T],  # shadows the builtin on purpose: msgspec calls it the same
        negative_ttl: float | None = None,
        negative_exceptions: NegativeExceptions | None = None,
    ) -> CacheResult[T]:
        """The value for ``key``, loading it with ``loader`` when needed (see module docs).

        ``negative_exceptions`` (default: the cache's) are answers, not failures: one raised by
        the loader is remembered for ``negative_ttl`` (default ``ttl``) and raised again, as the
        same class with the same attributes, without calling the loader. Any other error of
        the loader propagates, unless a stale value can be served instead ("stale_error").
        """
        if not isinstance(key, CacheKey):
            raise TypeError("cache keys are CacheKey objects, never strings")
        if negative_exceptions is None:
            negative_exceptions = self._negative_exceptions
        freshness = Freshness.checked(ttl, stale_ttl, negative_ttl, negative_exceptions)
        name, local = self._in_level_1(key)
        if local is not None and freshness.state(local, self._clock.time()) == "fresh":
            # Answered here, without the lookup's span and coroutines: every lookup of a cached
            # screen (``_held_result``).
            try:
                value: T = self._local.decode(name, local, type)
            except msgspec.DecodeError:
                pass  # written by an older version of the code: the lookup below reloads it
            else:
                return self._held_result(key, value)
        with child_span(lookup_name(key), lookup_attributes(key), answers=negative_exceptions):
            return await self._lookup(key, loader, freshness, type, name, local)

    def _in_level_1(self, key: CacheKey) -> tuple[str, Envelope | None]:
        """The key's name, and level 1's entry for it when this request may be served it: a
        shared entry for up to local_ttl; a user's, only under the generation this request read
        with its session (``generations``); any, without Redis (level 1 is the whole cache)."""
        name = self._names.value(key)
        local = self._local.get(name, self._clock.monotonic())
        if local is not None and self._redis is not None:
            generation = "" if key.user_tag is None else known_generation(key)
            if local.generation != generation:  # None (not read with the session) never equals
                local = None
        return name, local

    def _held_result(self, key: CacheKey, value: T) -> CacheResult[T]:
        """A level-1 hit: counted, and an event rather than a span (``lookup_trace``)."""
        self._lookups.count(key.kind, "hit")
        self.stats.count("hit")
        degraded = self._degraded
        note_held_hit(key, degraded=degraded)
        return CacheResult(value, "hit", degraded=degraded)

    async def _lookup(
        self,
        key: CacheKey,
        loader: Callable[[], Awaitable[T]],
        freshness: Freshness,
        type: type[T],
        name: str,
        local: Envelope | None,
    ) -> CacheResult[T]:
        found = await self._find(key, freshness, name, local)
        envelope = found.envelope
        if envelope is not None:
            state = freshness.state(envelope, self._clock.time())
            if state == "negative" and envelope.error is not None:
                self.stats.negative_hits += 1
                self._note(key, "negative")
                raise freshness.rebuild_error(envelope.error)
            if state in ("fresh", "stale"):
                try:
                    value = self._local.decode(found.name, envelope, type)
                except msgspec.DecodeError:  # written by an older version of the code: reload
                    _log.warning("cache_entry_unreadable", cache=self._name, kind=key.kind)
                else:
                    load = _Load(key, found, loader, freshness, stale=envelope)
                    status = "hit" if state == "fresh" else self._serve_stale(load)
                    return self._result(key, value, status)
        load = _Load(key, found, loader, freshness, stale=None)
        outcome = await asyncio.shield(self._flight(load).task)
        return self._result(
            key, msgspec.msgpack.decode(outcome.envelope.value, type=type), outcome.status
        )

    async def invalidate(self, *keys: CacheKey) -> None:
        """Drop these entries here and in Redis.

        Another instance may still serve the entry from its level 1 for up to ``local_ttl``.
        For per-user data prefer :meth:`invalidate_user_kinds`: every instance sees it on the
        user's next request, and loads already running on other instances are voided. A value
        this instance loaded before is written first (its write may still be behind its
        answer), so the delete comes after it.
        """
        names = [self._names.value(key) for key in keys]
        for name in names:
            self._forget_locally(name, with_parts=False)
        if self._redis is not None and names:
            await self.writes_done()
            await self._redis.delete(names)

    async def invalidate_user_kinds(self, sub: str, *kinds: str) -> None:
        """Drop every entry of these kinds for this user, whatever their parts, everywhere."""
        tag = self._users.tag(sub)
        for kind in kinds:
            self._forget_locally(self._names.user_kind(tag, kind), with_parts=True)
        if self._redis is not None and kinds:
            await self._redis.new_generations(tag, kinds)

    async def writes_done(self) -> None:
        """Wait for the Redis writes still behind their answers (``RedisLevel.write_behind``)."""
        if self._redis is not None:
            await self._redis.writes_done()

    async def aclose(self) -> None:
        """Finish the writes behind answers, stop loads still running (background refreshes);
        the lifespan closes Redis."""
        await self.writes_done()
        tasks: list[asyncio.Task[Any]] = [*self._flights.tasks()]
        if self._redis is not None:
            tasks.extend(self._redis.tasks())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- reading --------------------------------------------------------------------------

    async def _find(
        self, key: CacheKey, freshness: Freshness, name: str, local: Envelope | None
    ) -> _Found:
        """The entry to judge: level 1's (``_in_level_1``) when it needs no load, else Redis's."""
        if self._redis is None:
            return _Found(name, local, "")
        if local is not None and freshness.servable_without_load(local, self._clock.time()):
            return _Found(name, local, local.generation)
        read = await self._redis.read(key, name)
        if read is None:
            return _Found(name, None, None)
        envelope, read_generation = read
        if envelope is not None:
            self._keep_locally(key, name, envelope, self._local_ttl)
        return _Found(name, envelope, read_generation)

    def _serve_stale(self, load: _Load) -> CacheStatus:
        retry_at = self._failed_refreshes.get(load.found.flight_key)
        if retry_at is not None and retry_at > self._clock.monotonic():
            return "stale_error"  # the source just failed; do not ask it again per request
        self._flight(load)
        return "stale"

    def _note(self, key: CacheKey, status: str) -> None:
        """Count the outcome and describe it on the lookup's span (the current one)."""
        self._lookups.count(key.kind, status)
        describe_outcome(status, degraded=self._degraded)

    def _result(self, key: CacheKey, value: T, status: CacheStatus) -> CacheResult[T]:
        self._note(key, status)
        self.stats.count(status)
        return CacheResult(value, status, degraded=self._degraded)

    @property
    def _degraded(self) -> bool:
        return self._redis is not None and not self._health.up

    # --- loading --------------------------------------------------------------------------

    def _flight(self, load: _Load) -> Flight[_Outcome]:
        return self._flights.join(load.found.flight_key, partial(self._fill, load=load))

    async def _fill(self, flight: Flight[_Outcome], *, load: _Load) -> _Outcome:
        redis = self._redis
        held = _HeldLock()
        if redis is not None and load.found.generation is not None:
            servable = partial(self._servable_without_load, load.freshness)
            value = ReadUnderLock(redis, load.key, load.found.name, servable)
            lock_name = self._names.lock(load.key)
            held.lock, ready = await redis.locks.take_or_wait(lock_name, value)
            if ready is not None:  # another loader stored it meanwhile
                if ready.error is not None:
                    raise load.freshness.rebuild_error(ready.error)
                self._keep_locally(load.key, load.found.name, ready, self._local_ttl)
                return _Outcome(ready, "miss")
        try:
            return await self._load(flight, load, held)
        finally:
            if redis is not None and held.lock is not None:  # not handed to a write
                await redis.locks.release(held.lock)

    def _servable_without_load(self, freshness: Freshness, envelope: Envelope) -> bool:
        """Whether a value another instance stored meanwhile needs no load."""
        return freshness.servable_without_load(envelope, self._clock.time())

    async def _load(self, flight: Flight[_Outcome], load: _Load, held: _HeldLock) -> _Outcome:
        self.stats.loads += 1
        generation = load.found.generation or ""
        freshness = load.freshness
        try:
            value = await load.loader()
        except Exception as exc:
            negative = freshness.negative_envelope(exc, generation, self._clock.time())
            if negative is not None:
                self._store(flight, load, *negative, lifetime=freshness.negative_ttl, held=held)
                raise
            stale = load.stale
            if stale is not None and freshness.state(stale, self._clock.time()) == "stale":
                retry_at = self._clock.monotonic() + _REFRESH_RETRY_S
                self._failed_refreshes.put(load.found.flight_key, retry_at)
                _log.warning(
                    "cache_serving_stale_on_error",
                    cache=self._name,
                    kind=load.key.kind,
                    error=type(exc).__name__,
                )
                return _Outcome(stale, "stale_error")
            raise
        envelope, payload = value_envelope(value, generation, self._clock.time())
        self._store(flight, load, envelope, payload, lifetime=freshness.lifetime, held=held)
        self._failed_refreshes.pop(load.found.flight_key)
        return _Outcome(envelope, "miss")

    def _store(
        self,
        flight: Flight[_Outcome],
        load: _Load,
        envelope: Envelope,
        payload: bytes,
        *,
        lifetime: float,
        held: _HeldLock,
    ) -> None:
        """Level 1 at once; Redis (and the lock's release) behind the answer."""
        if flight.discarded:  # invalidated while loading: this answer may predate the write
            return
        name = load.found.name
        now = self._clock.monotonic()
        if self._redis is None:
            self._local.put(name, envelope, now + lifetime, now)
            return
        self._keep_locally(load.key, name, envelope, min(self._local_ttl, lifetime))
        if load.found.generation is not None:
            lock, held.lock = held.lock, None
            self._redis.write_behind(
                name, payload, lifetime=lifetime, lock=lock, discarded=lambda: flight.discarded
            )

    def _keep_locally(self, key: CacheKey, name: str, envelope: Envelope, keep_s: float) -> None:
        """Level 1 holds a Redis-backed entry for ``keep_s``: a shared one always; a user's
        when this request read its generation with the session (no other request could be
        served it from there)."""
        if key.user_tag is None or known_generation(key) == envelope.generation:
            now = self._clock.monotonic()
            self._local.put(name, envelope, now + keep_s, now)

    def _forget_locally(self, name: str, *, with_parts: bool) -> None:
        """Drop level-1 entries and running loads of ``name`` (and of its longer keys)."""

        def covers(key: str) -> bool:
            return key == name or (with_parts and key.startswith(name + ":"))

        self._local.drop_where(covers)
        if self._redis is not None:
            self._redis.forget_reads(covers)
        self._flights.discard_where(lambda flight_key: covers(flight_key.rpartition("#")[0]))
