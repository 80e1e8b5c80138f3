"""What the cache stores, and how old an entry may be before it is no longer served.

Values are MessagePack in an envelope ``(stored_at, generation, value, error)`` that Redis
expires after the entry's whole life (``ttl + stale_ttl``). Freshness, chosen per call::

    age < ttl                      "fresh"    served as is
    ttl <= age < ttl + stale_ttl   "stale"    served at once, refreshed in the background
    older, or absent               "expired"  loaded again

A remembered error ("negative" entry) is served for ``negative_ttl`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import msgspec

from shared.platform.logging import get_logger

NegativeExceptions: TypeAlias = tuple[type[Exception], ...]
EntryState = Literal["fresh", "stale", "negative", "expired"]

MAX_LIFETIME_S: Final = 86_400.0
"""Longest life of an entry (``ttl + stale_ttl``); user generations outlive it twice over."""

_log = get_logger("bff.cache")


class ErrorMarker(msgspec.Struct, array_like=True, frozen=True):
    """A remembered negative answer: the error's class name and plain-data state, never the
    exception object (no traceback, frames or pickle; only listed classes are rebuilt)."""

    type: str
    args: list[Any]
    attrs: dict[str, Any]


class Envelope(msgspec.Struct, array_like=True, frozen=True):
    stored_at: float  # wall clock, so that every instance can tell the entry's age
    generation: str  # the user's generation of this kind when it was loaded ("" for shared)
    value: msgspec.Raw  # the value's own MessagePack, decoded per caller into its type
    error: ErrorMarker | None = None


encoder: Final = msgspec.msgpack.Encoder()
envelope_decoder: Final = msgspec.msgpack.Decoder(Envelope)
_NIL: Final = msgspec.Raw(encoder.encode(None))


def value_envelope(value: Any, generation: str, now: float) -> tuple[Envelope, bytes]:
    """A loaded value, wrapped and encoded for storing."""
    envelope = Envelope(now, generation, msgspec.Raw(encoder.encode(value)))
    return envelope, encoder.encode(envelope)


def _class_name(cls: type[BaseException]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True, slots=True)
class Freshness:
    """The lifetimes one ``get_or_load`` call asked for, and what they make of an entry."""

    ttl: float
    stale_ttl: float
    negative_ttl: float
    negative_exceptions: NegativeExceptions

    @classmethod
    def checked(
        cls,
        ttl: float,
        stale_ttl: float,
        negative_ttl: float | None,
        negative_exceptions: NegativeExceptions,
    ) -> Freshness:
        """Refuses lifetimes that make no sense, so a typo cannot cache forever or never."""
        negative_ttl = ttl if negative_ttl is None else negative_ttl
        if ttl <= 0 or stale_ttl < 0 or negative_ttl <= 0:
            raise ValueError("ttl and negative_ttl must be positive, stale_ttl not negative")
        if max(ttl + stale_ttl, negative_ttl) > MAX_LIFETIME_S:
            raise ValueError(f"cache entries may live at most {MAX_LIFETIME_S:.0f} s")
        return cls(ttl, stale_ttl, negative_ttl, negative_exceptions)

    @property
    def lifetime(self) -> float:
        """How long a value entry is kept at all: fresh, then stale."""
        return self.ttl + self.stale_ttl

    def state(self, envelope: Envelope, now: float) -> EntryState:
        age = now - envelope.stored_at
        if envelope.error is not None:
            known = self.error_class(envelope.error) is not None
            return "negative" if known and age < self.negative_ttl else "expired"
        if age < self.ttl:
            return "fresh"
        return "stale" if age < self.lifetime else "expired"

    def servable_without_load(self, envelope: Envelope, now: float) -> bool:
        """Fresh, or a remembered error: an answer that needs no load at all."""
        return self.state(envelope, now) in ("fresh", "negative")

    def error_class(self, marker: ErrorMarker) -> type[Exception] | None:
        pending = list(self.negative_exceptions)
        while pending:
            cls = pending.pop()
            if _class_name(cls) == marker.type:
                return cls
            pending.extend(cls.__subclasses__())
        return None

    def rebuild_error(self, marker: ErrorMarker) -> Exception:
        """A fresh instance of the remembered error, with the state it was raised with."""
        cls = self.error_class(marker)
        if cls is None:  # state() said "negative", which needs the class to be known
            raise LookupError(marker.type)
        error = cls.__new__(cls)
        error.args = tuple(marker.args)
        error.__dict__.update(marker.attrs)
        return error

    def negative_envelope(
        self, exc: Exception, generation: str, now: float
    ) -> tuple[Envelope, bytes] | None:
        """The negative entry for ``exc``, or None when it is not one to remember (or its state
        is not plain data, in which case it is raised but not cached)."""
        if not isinstance(exc, self.negative_exceptions):
            return None
        marker = ErrorMarker(_class_name(type(exc)), list(exc.args), dict(vars(exc)))
        envelope = Envelope(now, generation, _NIL, marker)
        try:
            return envelope, encoder.encode(envelope)
        except (TypeError, msgspec.EncodeError):
            _log.warning("cache_negative_not_storable", error=type(exc).__name__)
            return None
