"""Level 1: a small least-recently-used map in this process.

What it holds, and why: without Redis (the one-process dev setup) it is the whole cache. With
Redis, per-user entries stay out of it, because another instance's invalidation could not reach
it; shared entries (products) are kept for at most ``local_ttl`` (1 s by default) after they
were read from Redis, which bounds how long another instance may still serve a shared entry
after ``invalidate``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from shared.cache.entries import Envelope

V = TypeVar("V")


class Lru(Generic[V]):
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

    def peek(self, key: str) -> V | None:
        """The entry, without making it the most recently used."""
        return self._data.get(key)

    def pop(self, key: str) -> None:
        self._data.pop(key, None)

    def drop_oldest_while(self, stale: Callable[[V], bool], limit: int) -> None:
        """Forget up to ``limit`` entries from the least recently used end while ``stale``."""
        for _ in range(limit):
            oldest = next(iter(self._data.items()), None)
            if oldest is None or not stale(oldest[1]):
                return
            del self._data[oldest[0]]

    def __len__(self) -> int:
        return len(self._data)

    def drop_where(self, matches: Callable[[str], bool]) -> None:
        for key in [key for key in self._data if matches(key)]:
            del self._data[key]


_SWEEP_PER_PUT = 2
"""More than one, so the map shrinks back when fewer keys are read than before."""


@dataclass(slots=True)
class LocalEntry:
    envelope: Envelope
    keep_until: float  # monotonic
    decoded: tuple[Any, Any] | None = None
    """The value decoded, and the type it was decoded into (``LocalEntries.decode``)."""


class LocalEntries:
    """Level 1 proper: envelopes that this process drops at their ``keep_until``."""

    def __init__(self, max_entries: int) -> None:
        self._entries: Lru[LocalEntry] = Lru(max_entries)

    def get(self, name: str, now: float) -> Envelope | None:
        entry = self._entries.get(name)
        if entry is None:
            return None
        if entry.keep_until <= now:
            self._entries.pop(name)
            return None
        return entry.envelope

    def put(self, name: str, envelope: Envelope, keep_until: float, now: float) -> None:
        """Also forgets a few entries past their time from the old end: an entry nobody reads
        again would otherwise stay until the count bound pushes it out, and a process that sees
        many keys would grow to that bound (entries live about a second with Redis)."""
        self._entries.put(name, LocalEntry(envelope, keep_until))
        self._entries.drop_oldest_while(lambda entry: entry.keep_until <= now, _SWEEP_PER_PUT)

    def decode(self, name: str, envelope: Envelope, type_: Any) -> Any:
        """``envelope``'s value as ``type_``. When it is the envelope held here under ``name``,
        it is decoded once and the value kept with it: a shared entry (a product, a batch of
        them) is read by every request for about a second, and decoding it each time was most
        of a level-1 hit. The values are msgspec's frozen structs, read and never changed by
        the screens; a value read from Redis is decoded for its caller alone."""
        entry = self._entries.peek(name)
        if entry is None or entry.envelope is not envelope:
            return msgspec.msgpack.decode(envelope.value, type=type_)
        if entry.decoded is not None and entry.decoded[0] == type_:
            return entry.decoded[1]
        value = msgspec.msgpack.decode(envelope.value, type=type_)
        entry.decoded = (type_, value)
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def drop_where(self, matches: Callable[[str], bool]) -> None:
        self._entries.drop_where(matches)
