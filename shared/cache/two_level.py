"""Two-level cache for screen data: stale-while-revalidate, stale-if-error, single flight.

Level 1 is a small LRU in this process; level 2 is Redis, shared by every instance. Without a
Redis client (the one-process dev setup) level 1 is the whole cache. Values are MessagePack in
an envelope ``(stored_at, generation, value, error)`` that Redis expires after the entry's whole
life (``ttl + stale_ttl``).

Freshness, chosen per call::

    age < ttl                      "hit"    served as is
    ttl <= age < ttl + stale_ttl   "stale"  served at once; refreshed once in the background
                                   "stale_error" instead while the last refresh failed
    older, or absent               "miss"   loaded once, however many callers wait

Single flight: one task per key in a process, and a short Redis lock (redis-py's ``Lock``:
``SET NX PX``, released only by its owner) across processes. An instance that finds the lock
taken polls Redis for the value and loads by itself once the holder is gone or after
``lock_wait_s``, so a crashed holder costs one bounded wait, never a hang. Concurrent lookups
of one key also share one Redis read, so a burst on a hot key uses one pooled connection.

Keys exist only as :class:`CacheKey`, made by ``CacheKey.shared`` or ``CacheKey.for_user``: a
per-user value is stored and found only under a key that contains (a hash of) its user, so no
code path can hand one user's data to another.

Invalidation of a user's kinds across instances (``invalidate_user_kinds``): every user has a
small Redis hash of generations, one field per kind, next to their entries (same hash tag, so
same Cluster slot). An entry records the generation it was loaded under and is read together
with the current one in one round trip; invalidating writes a new random generation, which
makes every entry of that kind unreachable at once, whatever its extra parts (order pages by
cursor), with no key scan, and also voids loads that were already running. Old entries simply
expire. Generations are random tokens, not counters, so a generation hash that expired and was
created again can never make an old entry valid again.

What level 1 holds, and why: with Redis, per-user entries stay out of level 1, because another
instance's invalidation could not reach it. Shared entries (products) are served from level 1
only while fresh and for at most ``local_ttl`` (1 s by default) after they were read from Redis:
that bounds how long another instance may still serve a shared entry after ``invalidate``.

When Redis fails (refused, timeout, any Redis error) the cache passes through to the loaders,
still single-flighted in this process, logs ``cache_redis_unavailable`` once, counts the
failure in ``stats``, and leaves Redis alone for ``redis_backoff_s`` instead of paying a timeout
per request. The first success after that logs ``cache_redis_recovered``. A client pool with
no free connection is not an outage: that one call skips Redis, with no back-off.

Telemetry: each lookup is a ``cache.lookup {kind}`` span (``cache.hit``, ``cache.stale``,
``cache.key_kind`` shared/user, ``cache.kind``; ``bff.cache.status`` for ``negative`` and
``stale_error``; never the key, which may name a user). The loader's core calls hang under the
span of the lookup that started the load. ``bff.cache.lookups`` counts outcomes per cache and
kind; Redis trouble shows in ``bff.cache.redis.errors`` and ``bff.cache.redis.available``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, Generic, Literal, TypeAlias, TypeVar, final
from urllib.parse import quote

import msgspec
import structlog
from opentelemetry import trace
from opentelemetry.util.types import AttributeValue
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, MaxConnectionsError, RedisError

from shared.platform import metrics as bff_metrics
from shared.platform.redis import RedisClient
from shared.platform.telemetry import child_span

T = TypeVar("T")
V = TypeVar("V")

CacheStatus = Literal["hit", "miss", "stale", "stale_error"]
KeyPart: TypeAlias = str | int
NegativeExceptions: TypeAlias = tuple[type[Exception], ...]

MAX_LIFETIME_S: Final = 86_400.0
"""Longest life of an entry (``ttl + stale_ttl``); user generations outlive it twice over."""

_GENERATIONS_TTL_MS: Final = int(2 * MAX_LIFETIME_S * 1000)
_REFRESH_RETRY_S: Final = (
    1.0  # after a failed refresh, serve "stale_error" this long before retrying
)
_POLL_FIRST_S: Final = 0.02
_POLL_MAX_S: Final = 0.2
_REDIS_ERRORS: Final = (RedisError, OSError)  # OSError covers socket errors and TimeoutError
_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}\Z")
_KEY_FACTORY: Final = object()
_STALE: Final = ("stale", "stale_error")

_log = structlog.get_logger("bff.cache")


# --- keys -----------------------------------------------------------------------------------


@final
class CacheKey:
    """Where a cached value lives. Made only by :meth:`shared` or :meth:`for_user`.

    A Redis name is ``bff:cache:<cache>:<v|l|g>:{<tag>}<rest>``. The ``{tag}`` is the Cluster
    hash tag: a shared key's whole identity (one slot per product spreads the load), or the
    user's hashed ``sub`` (all of a user's entries, locks and generations in one slot). Parts
    are percent-encoded, so ``("a:b",)`` and ``("a", "b")`` are different keys and no part can
    open or close a hash tag.
    """

    __slots__ = ("_rest", "_tag", "kind")

    def __init__(self, tag: str, kind: str, rest: str, *, _factory: object = None) -> None:
        if _factory is not _KEY_FACTORY:
            raise TypeError("make cache keys with CacheKey.shared() or CacheKey.for_user()")
        self._tag = tag
        self._rest = rest
        self.kind = kind

    @classmethod
    def shared(cls, kind: str, *parts: KeyPart) -> CacheKey:
        """A key for data that is the same for every user, such as a product."""
        return cls(f"s:{_check_name(kind)}{_join_parts(parts)}", kind, "", _factory=_KEY_FACTORY)

    @classmethod
    def for_user(cls, sub: str, kind: str, *parts: KeyPart) -> CacheKey:
        """A key for one user's data; ``sub`` is kept only as a hash (no personal data)."""
        rest = f":{_check_name(kind)}{_join_parts(parts)}"
        return cls(_user_tag(sub), kind, rest, _factory=_KEY_FACTORY)

    @property
    def per_user(self) -> bool:
        return self._tag.startswith("u:")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CacheKey) and (self._tag, self._rest) == (other._tag, other._rest)

    def __hash__(self) -> int:
        return hash((self._tag, self._rest))

    def __repr__(self) -> str:
        return f"CacheKey({{{self._tag}}}{self._rest})"


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(f"cache kinds and names are short lowercase words, not {name!r}")
    return name


def _join_parts(parts: tuple[KeyPart, ...]) -> str:
    for part in parts:
        if not isinstance(part, str | int):
            raise TypeError(f"cache key parts are str or int, not {type(part).__name__}")
    return "".join(":" + quote(str(part), safe="") for part in parts)


def _user_tag(sub: str) -> str:
    if not sub:
        raise ValueError("a per-user cache key needs the user's sub")
    return "u:" + hashlib.sha256(sub.encode()).hexdigest()[:32]


# --- stored form ----------------------------------------------------------------------------


class _ErrorMarker(msgspec.Struct, array_like=True, frozen=True):
    """A remembered negative answer: the error's class name and plain-data state, never the
    exception object (no traceback, frames or pickle; only listed classes are rebuilt)."""

    type: str
    args: list[Any]
    attrs: dict[str, Any]


class _Envelope(msgspec.Struct, array_like=True, frozen=True):
    stored_at: float  # wall clock, so that every instance can tell the entry's age
    generation: str  # the user's generation of this kind when it was loaded ("" for shared)
    value: msgspec.Raw  # the value's own MessagePack, decoded per caller into its type
    error: _ErrorMarker | None = None


_encoder: Final = msgspec.msgpack.Encoder()
_envelope_decoder: Final = msgspec.msgpack.Decoder(_Envelope)
_NIL: Final = msgspec.Raw(_encoder.encode(None))

_State = Literal["fresh", "stale", "negative", "expired"]


def _class_name(cls: type[BaseException]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True, slots=True)
class _Policy:
    ttl: float
    stale_ttl: float
    negative_ttl: float
    negative_exceptions: NegativeExceptions

    def state(self, envelope: _Envelope, now: float) -> _State:
        age = now - envelope.stored_at
        if envelope.error is not None:
            known = self.error_class(envelope.error) is not None
            return "negative" if known and age < self.negative_ttl else "expired"
        if age < self.ttl:
            return "fresh"
        return "stale" if age < self.ttl + self.stale_ttl else "expired"

    def error_class(self, marker: _ErrorMarker) -> type[Exception] | None:
        pending = list(self.negative_exceptions)
        while pending:
            cls = pending.pop()
            if _class_name(cls) == marker.type:
                return cls
            pending.extend(cls.__subclasses__())
        return None

    def rebuild_error(self, marker: _ErrorMarker) -> Exception:
        """A fresh instance of the remembered error, with the state it was raised with."""
        cls = self.error_class(marker)
        if cls is None:  # state() said "negative", which needs the class to be known
            raise LookupError(marker.type)
        error = cls.__new__(cls)
        error.args = tuple(marker.args)
        error.__dict__.update(marker.attrs)
        return error


# --- in-process parts -----------------------------------------------------------------------


class _Lru(Generic[V]):
    """A dict bounded by entry count that forgets the least recently used entry first."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._data: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._max:
            self._data.popitem(last=False)

    def pop(self, key: str) -> None:
        self._data.pop(key, None)

    def drop_where(self, matches: Callable[[str], bool]) -> None:
        for key in [key for key in self._data if matches(key)]:
            del self._data[key]


@dataclass(frozen=True, slots=True)
class _Local:
    envelope: _Envelope
    keep_until: float  # monotonic


@dataclass(frozen=True, slots=True)
class _Found:
    name: str  # Redis (and level 1) name of the value
    envelope: _Envelope | None
    generation: str | None  # None: Redis is configured but was not usable for this lookup

    @property
    def flight_key(self) -> str:
        # With the generation in it, a caller arriving after an invalidation on another
        # instance never joins a load that began before it.
        return f"{self.name}#{'-' if self.generation is None else self.generation}"


@dataclass(frozen=True, slots=True)
class _Outcome:
    envelope: _Envelope
    status: CacheStatus


class _Flight:
    """The one running load of a key in this process; ``discarded`` once invalidated."""

    __slots__ = ("discarded", "task")

    def __init__(self, run: Callable[[_Flight], Coroutine[Any, Any, _Outcome]]) -> None:
        self.discarded = False
        self.task = asyncio.create_task(run(self))


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


# --- the cache ------------------------------------------------------------------------------


class Cache:
    """See the module docstring. One per gateway process, made in the lifespan."""

    def __init__(
        self,
        redis: RedisClient | None,
        *,
        local_max_entries: int = 10_000,
        local_ttl: float = 1.0,
        lock_ttl_ms: int = 5_000,
        lock_wait_s: float = 2.0,
        redis_backoff_s: float = 5.0,
        negative_exceptions: NegativeExceptions = (),
        name: str = "default",
    ) -> None:
        self._redis = redis
        self._local: _Lru[_Local] = _Lru(local_max_entries)
        self._local_ttl = local_ttl
        self._lock_ttl_s = lock_ttl_ms / 1000
        self._lock_wait_s = lock_wait_s
        self._redis_backoff_s = redis_backoff_s
        self._negative_exceptions = negative_exceptions
        self._name = _check_name(name)
        self._prefix = f"bff:cache:{name}"
        self._flights: dict[str, _Flight] = {}
        self._reads: dict[str, asyncio.Task[tuple[_Envelope | None, str]]] = {}
        self._failed_refreshes: _Lru[float] = _Lru(local_max_entries)
        self._redis_up = True
        self._redis_retry_at = 0.0
        self.stats = CacheStats()
        self._lookups = bff_metrics.CacheLookups(self._name)
        if redis is not None:
            bff_metrics.CACHE_REDIS_AVAILABLE.set(1, {"bff.cache.name": self._name})

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
        policy = self._policy(ttl, stale_ttl, negative_ttl, negative_exceptions)
        attributes = {
            "cache.kind": key.kind,
            "cache.key_kind": "user" if key.per_user else "shared",
        }
        with child_span(f"cache.lookup {key.kind}", attributes, answers=policy.negative_exceptions):
            return await self._lookup(key, loader, policy, type)

    async def _lookup(
        self,
        key: CacheKey,
        loader: Callable[[], Awaitable[T]],
        policy: _Policy,
        type: type[T],
    ) -> CacheResult[T]:
        found = await self._find(key, policy)
        envelope = found.envelope
        if envelope is not None:
            state = policy.state(envelope, time.time())
            if state == "negative" and envelope.error is not None:
                self.stats.negative_hits += 1
                self._note(key, "negative")
                raise policy.rebuild_error(envelope.error)
            if state in ("fresh", "stale"):
                try:
                    value = msgspec.msgpack.decode(envelope.value, type=type)
                except msgspec.DecodeError:  # written by an older version of the code: reload
                    _log.warning("cache_entry_unreadable", cache=self._name, kind=key.kind)
                else:
                    status = (
                        "hit" if state == "fresh" else self._serve_stale(key, found, loader, policy)
                    )
                    return self._result(key, value, status)
        outcome = await asyncio.shield(self._flight(key, found, loader, policy, stale=None).task)
        return self._result(
            key, msgspec.msgpack.decode(outcome.envelope.value, type=type), outcome.status
        )

    async def invalidate(self, *keys: CacheKey) -> None:
        """Drop these entries here and in Redis.

        Another instance may still serve a shared entry from its level 1 for up to
        ``local_ttl``. For per-user data prefer :meth:`invalidate_user_kinds`, which also voids
        loads that are already running on other instances.
        """
        names = [self._value_name(key) for key in keys]
        for name in names:
            self._forget_locally(name, with_parts=False)
        if self._redis is not None and names:
            try:
                await self._redis.delete(*names)  # the Cluster client splits this by slot
            except _REDIS_ERRORS as exc:
                self._invalidation_failed(exc)

    async def invalidate_user_kinds(self, sub: str, *kinds: str) -> None:
        """Drop every entry of these kinds for this user, whatever their parts, everywhere.

        Redis is tried even during a back-off: a lost invalidation would show a user stale
        data after their own write, which is worse than one slow write request.
        """
        tag = _user_tag(sub)
        for kind in kinds:
            self._forget_locally(f"{self._prefix}:v:{{{tag}}}:{_check_name(kind)}", with_parts=True)
        if self._redis is None or not kinds:
            return
        generations = self._generations_name(tag)
        pipe = self._redis.pipeline(transaction=False)  # one key: atomic enough, Cluster-safe
        pipe.hset(generations, mapping=dict.fromkeys(kinds, secrets.token_hex(8)))
        pipe.pexpire(generations, _GENERATIONS_TTL_MS)
        try:
            await pipe.execute()
        except _REDIS_ERRORS as exc:
            self._invalidation_failed(exc)
        else:
            self._redis_ok()

    async def aclose(self) -> None:
        """Stop loads still running (background refreshes); the lifespan closes Redis."""
        tasks = [flight.task for flight in self._flights.values()] + list(self._reads.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- reading --------------------------------------------------------------------------

    def _policy(
        self,
        ttl: float,
        stale_ttl: float,
        negative_ttl: float | None,
        negative_exceptions: NegativeExceptions | None,
    ) -> _Policy:
        negative_ttl = ttl if negative_ttl is None else negative_ttl
        if ttl <= 0 or stale_ttl < 0 or negative_ttl <= 0:
            raise ValueError("ttl and negative_ttl must be positive, stale_ttl not negative")
        if max(ttl + stale_ttl, negative_ttl) > MAX_LIFETIME_S:
            raise ValueError(f"cache entries may live at most {MAX_LIFETIME_S:.0f} s")
        if negative_exceptions is None:
            negative_exceptions = self._negative_exceptions
        return _Policy(ttl, stale_ttl, negative_ttl, negative_exceptions)

    async def _find(self, key: CacheKey, policy: _Policy) -> _Found:
        name = self._value_name(key)
        local = self._local.get(name)
        if local is not None and local.keep_until <= time.monotonic():
            self._local.pop(name)
            local = None
        if self._redis is None:
            return _Found(name, local.envelope if local else None, "")
        if local is not None and policy.state(local.envelope, time.time()) in ("fresh", "negative"):
            return _Found(name, local.envelope, "")  # only shared entries are in level 1 here
        if not self._redis_usable():
            return _Found(name, None, None)
        try:
            envelope, generation = await asyncio.shield(self._read_once(self._redis, key, name))
        except _REDIS_ERRORS as exc:
            self._redis_failed(exc)
            return _Found(name, None, None)
        self._redis_ok()
        if envelope is not None and not key.per_user:
            self._local.put(name, _Local(envelope, time.monotonic() + self._local_ttl))
        return _Found(name, envelope, generation)

    def _read_once(
        self, redis: RedisClient, key: CacheKey, name: str
    ) -> asyncio.Task[tuple[_Envelope | None, str]]:
        """Concurrent lookups of one key share one Redis read: a burst of requests for a hot
        key costs one round trip and one pooled connection, not one per request."""
        read = self._reads.get(name)
        if read is None:
            read = asyncio.create_task(self._read_redis(redis, key, name))
            self._reads[name] = read
            read.add_done_callback(partial(_forget_task, self._reads, name))
        return read

    async def _read_redis(
        self, redis: RedisClient, key: CacheKey, name: str
    ) -> tuple[_Envelope | None, str]:
        """The entry (if valid under the user's current generation) and that generation."""
        if key.per_user:
            pipe = redis.pipeline(transaction=False)  # same hash tag: one slot, one round trip
            pipe.hget(self._generations_name(key._tag), key.kind)
            pipe.get(name)
            raw_generation, raw = await pipe.execute()
            generation = raw_generation.decode() if raw_generation else ""
        else:
            raw, generation = await redis.get(name), ""
        if not raw:
            return None, generation
        try:
            envelope = _envelope_decoder.decode(raw)
        except msgspec.DecodeError:
            _log.warning("cache_entry_unreadable", cache=self._name, kind=key.kind)
            return None, generation
        if envelope.generation != generation:  # loaded before the kind was invalidated
            return None, generation
        return envelope, generation

    def _serve_stale(
        self, key: CacheKey, found: _Found, loader: Callable[[], Awaitable[Any]], policy: _Policy
    ) -> CacheStatus:
        retry_at = self._failed_refreshes.get(found.flight_key)
        if retry_at is not None and retry_at > time.monotonic():
            return "stale_error"  # the source just failed; do not ask it again per request
        self._flight(key, found, loader, policy, stale=found.envelope)
        return "stale"

    def _note(self, key: CacheKey, status: str) -> None:
        """Count the outcome and describe it on the lookup's span (the current one)."""
        self._lookups.count(key.kind, status)
        span = trace.get_current_span()
        if span.is_recording():
            attributes: dict[str, AttributeValue] = {
                "cache.hit": status != "miss",
                "cache.stale": status in _STALE,
            }
            if status in ("negative", "stale_error"):  # what hit/stale alone cannot say
                attributes["bff.cache.status"] = status
            if self._redis is not None and not self._redis_up:
                attributes["bff.cache.degraded"] = True
            span.set_attributes(attributes)

    def _result(self, key: CacheKey, value: T, status: CacheStatus) -> CacheResult[T]:
        self._note(key, status)
        if status == "hit":
            self.stats.hits += 1
        elif status == "miss":
            self.stats.misses += 1
        elif status == "stale":
            self.stats.stale += 1
        else:
            self.stats.stale_errors += 1
        return CacheResult(value, status, degraded=self._redis is not None and not self._redis_up)

    # --- loading --------------------------------------------------------------------------

    def _flight(
        self,
        key: CacheKey,
        found: _Found,
        loader: Callable[[], Awaitable[Any]],
        policy: _Policy,
        stale: _Envelope | None,
    ) -> _Flight:
        flight = self._flights.get(found.flight_key)
        if flight is None:
            flight = _Flight(
                partial(self._fill, key=key, found=found, loader=loader, policy=policy, stale=stale)
            )
            self._flights[found.flight_key] = flight
            flight.task.add_done_callback(partial(self._flight_done, found.flight_key, flight))
        return flight

    def _flight_done(self, flight_key: str, flight: _Flight, task: asyncio.Task[_Outcome]) -> None:
        if self._flights.get(flight_key) is flight:
            del self._flights[flight_key]
        _retrieve_exception(task)

    async def _fill(
        self,
        flight: _Flight,
        *,
        key: CacheKey,
        found: _Found,
        loader: Callable[[], Awaitable[Any]],
        policy: _Policy,
        stale: _Envelope | None,
    ) -> _Outcome:
        lock: Lock | None = None
        if self._redis is not None and found.generation is not None:
            lock, ready = await self._lock_or_wait(self._redis, key, found.name, policy)
            if ready is not None:
                if ready.error is not None:
                    raise policy.rebuild_error(ready.error)
                return _Outcome(ready, "miss")
        try:
            return await self._load(flight, key, found, loader, policy, stale)
        finally:
            if lock is not None:
                await self._unlock(lock)

    async def _lock_or_wait(
        self, redis: RedisClient, key: CacheKey, name: str, policy: _Policy
    ) -> tuple[Lock | None, _Envelope | None]:
        """Take the key's lock, or wait for the instance holding it to store the value.

        ``(None, None)`` means load without the lock: Redis failed, or the holder did not
        finish within ``lock_wait_s``. A holder that died leaves a lock that expires after
        ``lock_ttl_ms``; the next poll then takes it.
        """
        lock = Lock(redis, self._lock_name(key), timeout=self._lock_ttl_s, thread_local=False)
        deadline = time.monotonic() + self._lock_wait_s
        delay = _POLL_FIRST_S
        try:
            while True:
                if await lock.acquire(blocking=False):
                    ready = await self._read_ready(redis, key, name, policy)
                    if ready is not None:  # stored by another instance since our first read
                        await self._unlock(lock)
                        return None, ready
                    return lock, None
                if time.monotonic() + delay > deadline:
                    return None, None
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, _POLL_MAX_S)
                ready = await self._read_ready(redis, key, name, policy)
                if ready is not None:
                    return None, ready
        except _REDIS_ERRORS as exc:
            self._redis_failed(exc)
            return None, None

    async def _read_ready(
        self, redis: RedisClient, key: CacheKey, name: str, policy: _Policy
    ) -> _Envelope | None:
        envelope, _ = await self._read_redis(redis, key, name)
        if envelope is not None and policy.state(envelope, time.time()) in ("fresh", "negative"):
            return envelope
        return None

    async def _unlock(self, lock: Lock) -> None:
        try:
            await lock.release()  # a Lua check-and-delete: only our own token is removed
        except LockError:
            _log.warning("cache_lock_expired_before_release", cache=self._name)
        except _REDIS_ERRORS as exc:
            self._redis_failed(exc)

    async def _load(
        self,
        flight: _Flight,
        key: CacheKey,
        found: _Found,
        loader: Callable[[], Awaitable[Any]],
        policy: _Policy,
        stale: _Envelope | None,
    ) -> _Outcome:
        self.stats.loads += 1
        generation = found.generation or ""
        try:
            value = await loader()
        except Exception as exc:
            negative = _negative_envelope(exc, generation, policy)
            if negative is not None:
                await self._store(flight, key, found, *negative, lifetime=policy.negative_ttl)
                raise
            if stale is not None and policy.state(stale, time.time()) == "stale":
                retry_at = time.monotonic() + _REFRESH_RETRY_S
                self._failed_refreshes.put(found.flight_key, retry_at)
                _log.warning(
                    "cache_serving_stale_on_error",
                    cache=self._name,
                    kind=key.kind,
                    error=type(exc).__name__,
                )
                return _Outcome(stale, "stale_error")
            raise
        envelope = _Envelope(time.time(), generation, msgspec.Raw(_encoder.encode(value)))
        lifetime = policy.ttl + policy.stale_ttl
        await self._store(
            flight, key, found, envelope, _encoder.encode(envelope), lifetime=lifetime
        )
        self._failed_refreshes.pop(found.flight_key)
        return _Outcome(envelope, "miss")

    async def _store(
        self,
        flight: _Flight,
        key: CacheKey,
        found: _Found,
        envelope: _Envelope,
        payload: bytes,
        *,
        lifetime: float,
    ) -> None:
        if flight.discarded:  # invalidated while loading: this answer may predate the write
            return
        now = time.monotonic()
        if self._redis is None:
            self._local.put(found.name, _Local(envelope, now + lifetime))
            return
        if not key.per_user:
            self._local.put(found.name, _Local(envelope, now + min(self._local_ttl, lifetime)))
        if found.generation is None or not self._redis_usable():
            return
        try:
            await self._redis.set(found.name, payload, px=max(1, round(lifetime * 1000)))
        except _REDIS_ERRORS as exc:
            self._redis_failed(exc)
        else:
            self._redis_ok()

    # --- invalidation and Redis health -----------------------------------------------------

    def _forget_locally(self, name: str, *, with_parts: bool) -> None:
        """Drop level-1 entries and running loads of ``name`` (and of its longer keys)."""

        def covers(key: str) -> bool:
            return key == name or (with_parts and key.startswith(name + ":"))

        self._local.drop_where(covers)
        for read_name in [k for k in self._reads if covers(k)]:
            del self._reads[read_name]  # later lookups read again, after the invalidation
        for flight_key in [k for k in self._flights if covers(k.rpartition("#")[0])]:
            self._flights.pop(flight_key).discarded = True

    def _invalidation_failed(self, exc: BaseException) -> None:
        self._redis_failed(exc)
        _log.error("cache_invalidation_failed", cache=self._name, error=type(exc).__name__)

    def _redis_usable(self) -> bool:
        return self._redis is not None and time.monotonic() >= self._redis_retry_at

    def _redis_failed(self, exc: BaseException) -> None:
        if isinstance(exc, MaxConnectionsError):
            # This process is busy, Redis is fine: skip Redis for this call only; backing off
            # would send every request to the core services for redis_backoff_s.
            self.stats.redis_pool_exhausted += 1
            return
        self.stats.redis_failures += 1
        bff_metrics.CACHE_REDIS_ERRORS.add(1, {"bff.cache.name": self._name})
        self._redis_retry_at = time.monotonic() + self._redis_backoff_s
        if self._redis_up:
            self._redis_up = False
            bff_metrics.CACHE_REDIS_AVAILABLE.set(0, {"bff.cache.name": self._name})
            _log.warning("cache_redis_unavailable", cache=self._name, error=type(exc).__name__)

    def _redis_ok(self) -> None:
        if not self._redis_up:
            self._redis_up = True
            bff_metrics.CACHE_REDIS_AVAILABLE.set(1, {"bff.cache.name": self._name})
            _log.info("cache_redis_recovered", cache=self._name)

    def _value_name(self, key: CacheKey) -> str:
        return f"{self._prefix}:v:{{{key._tag}}}{key._rest}"

    def _lock_name(self, key: CacheKey) -> str:
        return f"{self._prefix}:l:{{{key._tag}}}{key._rest}"

    def _generations_name(self, tag: str) -> str:
        return f"{self._prefix}:g:{{{tag}}}"


def _negative_envelope(
    exc: Exception, generation: str, policy: _Policy
) -> tuple[_Envelope, bytes] | None:
    """The negative entry for ``exc``, or None when it is not one to remember (or its state is
    not plain data, in which case it is raised but not cached)."""
    if not isinstance(exc, policy.negative_exceptions):
        return None
    marker = _ErrorMarker(_class_name(type(exc)), list(exc.args), dict(vars(exc)))
    envelope = _Envelope(time.time(), generation, _NIL, marker)
    try:
        return envelope, _encoder.encode(envelope)
    except (TypeError, msgspec.EncodeError):
        _log.warning("cache_negative_not_storable", error=type(exc).__name__)
        return None


def _forget_task(tasks: dict[str, asyncio.Task[Any]], name: str, task: asyncio.Task[Any]) -> None:
    if tasks.get(name) is task:
        del tasks[name]
    _retrieve_exception(task)


def _retrieve_exception(task: asyncio.Task[Any]) -> None:
    """Mark a finished task's error as seen: its waiters got it, or (a background refresh) no
    one waits for it; either way asyncio must not report it as lost."""
    if not task.cancelled():
        task.exception()
