"""How a cache lookup shows in a trace: a ``cache.lookup {kind}`` span for a lookup that leaves
the process (Redis, a load), an event of the same name for one that level 1 answers.

Never the key, which may name a user: its kind, whether it is a user's or shared, and the
outcome (``cache.hit``, ``cache.stale``; ``bff.cache.status`` for ``negative`` and
``stale_error``, which hit and stale alone cannot say; ``bff.cache.degraded`` while Redis is
down). A level-1 hit takes a few microseconds, and a sampled request's every span is made,
ended and exported: as spans, a warm screen's four or five of them were most of what tracing
cost it (docs/performance.md, round 8).
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from shared.cache.keys import CacheKey
from shared.platform.telemetry import current_part

__all__ = ["describe_outcome", "lookup_attributes", "lookup_name", "note_held_hit"]

_STALE = ("stale", "stale_error")


def lookup_name(key: CacheKey) -> str:
    return f"cache.lookup {key.kind}"


def lookup_attributes(key: CacheKey) -> dict[str, AttributeValue]:
    """What a lookup is known by before its outcome."""
    return {"cache.kind": key.kind, "cache.key_kind": "user" if key.per_user else "shared"}


def outcome_attributes(status: str, *, degraded: bool) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "cache.hit": status != "miss",
        "cache.stale": status in _STALE,
    }
    if status in ("negative", "stale_error"):
        attributes["bff.cache.status"] = status
    if degraded:
        attributes["bff.cache.degraded"] = True
    return attributes


def describe_outcome(status: str, *, degraded: bool) -> None:
    """The outcome, on the lookup's span (the current one), when it is recording."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(outcome_attributes(status, degraded=degraded))


def note_held_hit(key: CacheKey, *, degraded: bool) -> None:
    """A level-1 hit, as an event on the current span (the fan-out, for a screen's parts)."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    attributes = lookup_attributes(key) | outcome_attributes("hit", degraded=degraded)
    part = current_part()
    if part is not None:
        attributes["bff.part"] = part
    span.add_event(lookup_name(key), attributes)
