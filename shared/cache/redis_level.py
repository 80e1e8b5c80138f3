"""Level 2: the cache's entries in Redis, shared by every instance.

Every Redis call of the cache goes through here, and every failure of one is told to
``RedisHealth``, which decides when to try Redis again. Reads of one key that overlap share one
read: a burst of requests for a hot key costs one pooled connection, not one per request. Reads
and locks started together go out in one pipeline (``batch``).

Invalidation of a user's kinds across instances: every user has a small Redis hash of
generations, one field per kind, next to their entries (same hash tag, so same Cluster slot).
An entry records the generation it was loaded under and is read together with the current one
in one round trip; invalidating writes a new random generation, which makes every entry of that
kind unreachable at once, whatever its extra parts (order pages by cursor), with no key scan,
and also voids loads that were already running. Old entries simply expire. Generations are
random tokens, not counters, so a generation hash that expired and was created again can never
make an old entry valid again.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import msgspec
from redis.asyncio.lock import Lock

from shared.cache.batch import RedisBatch
from shared.cache.entries import MAX_LIFETIME_S, Envelope, envelope_decoder
from shared.cache.flight import RedisLocks, SingleFlight
from shared.cache.health import REDIS_ERRORS, RedisHealth
from shared.cache.keys import CacheKey, RedisNames
from shared.platform.after_answer import after_answer
from shared.platform.logging import get_logger
from shared.platform.redis import RedisClient, RedisPipeline

Read = tuple[Envelope | None, str]
"""An entry (if it is valid under its user's current generation of its kind) and that
generation (``""`` for shared entries and users who never invalidated the kind)."""

_GENERATIONS_TTL_MS: Final = int(2 * MAX_LIFETIME_S * 1000)

_log = get_logger("bff.cache")


class RedisLevel:
    """Reads, writes and invalidations in Redis, each failure reported to ``health``."""

    def __init__(
        self,
        redis: RedisClient,
        names: RedisNames,
        *,
        health: RedisHealth,
        lock_ttl_ms: int,
        lock_wait_s: float,
        cache_name: str,
    ) -> None:
        self._redis = redis
        self._names = names
        self.health = health
        self._cache_name = cache_name
        self._reads: SingleFlight[Read] = SingleFlight()
        self._batch = RedisBatch(redis)
        self._writes: set[asyncio.Task[None]] = set()
        self._held_writes: set[Callable[[], None]] = set()
        self.locks = RedisLocks(
            redis,
            self._batch,
            ttl_ms=lock_ttl_ms,
            wait_s=lock_wait_s,
            health=health,
            name=cache_name,
        )

    async def read(self, key: CacheKey, name: str) -> Read | None:
        """The entry at ``name``, or None when Redis is not to be used for this lookup."""
        if not self.health.usable():
            return None
        read = self._reads.join(name, lambda _flight: self._read_now(key, name))
        try:
            found = await asyncio.shield(read.task)
        except REDIS_ERRORS as exc:
            self.health.failed(exc)
            return None
        self.health.ok()
        return found

    async def _read_now(self, key: CacheKey, name: str) -> Read:
        """One read, in the batch of this turn of the loop (Redis errors propagate)."""
        replies = await self._batch.send(partial(self.queue_read, key=key, name=name))
        return self.read_from(key, replies)

    def queue_read(self, pipe: RedisPipeline, *, key: CacheKey, name: str) -> None:
        """The commands of a read (``read_from`` decodes their replies): the user's generation
        of the kind first for a per-user key, then the value."""
        if key.per_user:
            pipe.hget(self._names.generations(key), key.kind)
        pipe.get(name)

    def read_from(self, key: CacheKey, replies: Sequence[Any]) -> Read:
        """The read that ``queue_read``'s commands answered."""
        if key.per_user:
            raw_generation, raw = replies
            return self._decoded(key, raw_generation, raw)
        return self._decoded(key, None, replies[0])

    def _decoded(self, key: CacheKey, raw_generation: Any, raw: Any) -> Read:
        generation = raw_generation.decode() if raw_generation else ""
        if not raw:
            return None, generation
        try:
            envelope = envelope_decoder.decode(raw)
        except msgspec.DecodeError:
            _log.warning("cache_entry_unreadable", cache=self._cache_name, kind=key.kind)
            return None, generation
        if envelope.generation != generation:  # loaded before the kind was invalidated
            return None, generation
        return envelope, generation

    async def store(self, name: str, payload: bytes, *, lifetime: float) -> None:
        if not self.health.usable():
            return
        try:
            await self._redis.set(name, payload, px=max(1, round(lifetime * 1000)))
        except REDIS_ERRORS as exc:
            self.health.failed(exc)
        else:
            self.health.ok()

    def write_behind(
        self,
        name: str,
        payload: bytes,
        *,
        lifetime: float,
        lock: Lock | None,
        discarded: Callable[[], bool],
    ) -> None:
        """Store a loaded value, then release the load's lock, after its callers have it.

        A cold screen waited for both round trips before answering; nobody needs them done
        first. Callers here have the value; this instance's level 1 has a shared entry; another
        instance waiting for the lock reads the value once the lock is gone, which is after the
        write, as before. A load invalidated meanwhile (``discarded``) writes nothing. In a
        request, the write starts once the answer has been sent (``after_answer``), so its
        round trips do not take turns with the answer's last steps.
        """

        async def store_then_release() -> None:
            try:
                if not discarded():
                    await self.store(name, payload, lifetime=lifetime)
            finally:
                if lock is not None:
                    await self.locks.release(lock)

        def start() -> None:
            if start not in self._held_writes:  # started already, by writes_done
                return
            self._held_writes.discard(start)
            task = asyncio.create_task(store_then_release(), name="cache-write")
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

        self._held_writes.add(start)
        after_answer(start)

    async def writes_done(self) -> None:
        """Start the writes still held for an answer (an invalidation must come after them),
        and wait for every write. Each is bounded by the client's socket timeout, so this wait
        is too."""
        for start in list(self._held_writes):
            start()
        await asyncio.gather(*self._writes, return_exceptions=True)

    async def delete(self, names: list[str]) -> None:
        try:
            await self._redis.delete(*names)  # the Cluster client splits this by slot
        except REDIS_ERRORS as exc:
            self._invalidation_failed(exc)

    async def new_generations(self, user_tag: str, kinds: tuple[str, ...]) -> None:
        """Void every entry of these kinds of this user, on every instance.

        Redis is tried even during a back-off: a lost invalidation would show a user stale
        data after their own write, which is worse than one slow write request.
        """
        generations = self._names.generations_of(user_tag)
        pipe = self._redis.pipeline(transaction=False)  # one key: atomic enough, Cluster-safe
        pipe.hset(generations, mapping=dict.fromkeys(kinds, secrets.token_hex(8)))
        pipe.pexpire(generations, _GENERATIONS_TTL_MS)
        try:
            await pipe.execute()
        except REDIS_ERRORS as exc:
            self._invalidation_failed(exc)
        else:
            self.health.ok()

    def forget_reads(self, covers: Callable[[str], bool]) -> None:
        """Lookups of these names read again, after an invalidation, instead of joining."""
        self._reads.discard_where(covers)

    def tasks(self) -> list[asyncio.Task[Any]]:
        return [*self._reads.tasks(), *self._batch.tasks(), *self._writes]

    def _invalidation_failed(self, exc: BaseException) -> None:
        self.health.failed(exc)
        _log.error("cache_invalidation_failed", cache=self._cache_name, error=type(exc).__name__)


@dataclass(frozen=True, slots=True)
class ReadUnderLock:
    """The value a load's lock guards (``flight.GuardedRead``), read again with the lock's
    ``SET NX``: another instance may have stored it since this one's first read.
    ``servable`` says whether an entry found needs no load."""

    level: RedisLevel
    key: CacheKey
    name: str
    servable: Callable[[Envelope], bool]

    def queue(self, pipe: RedisPipeline) -> None:
        self.level.queue_read(pipe, key=self.key, name=self.name)

    def ready(self, replies: Sequence[Any]) -> Envelope | None:
        envelope, _ = self.level.read_from(self.key, replies)
        return envelope if envelope is not None and self.servable(envelope) else None
