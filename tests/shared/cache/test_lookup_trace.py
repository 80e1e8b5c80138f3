"""A lookup in a sampled trace, against a real Redis: a span when it leaves the process, an
event on the current span when level 1 answers it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from shared.cache import Cache, CacheKey, CacheResult
from shared.platform.telemetry import in_part
from tests.fixtures.clock import FakeClock
from tests.shared.cache.support import TTL, MakeCache, Product, Source, get
from tests.shared.platform.test_telemetry import SpanRecorder, recording_spans, sampled_root

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def spans() -> Iterator[SpanRecorder]:
    with recording_spans() as recorder:
        yield recorder


def lookups_under(spans: SpanRecorder, root_trace: int) -> list[ReadableSpan]:
    return [s for s in spans.of_trace(root_trace) if s.name.startswith("cache.lookup ")]


async def traced_get(cache: Cache, key: CacheKey, source: Source) -> tuple[CacheResult[Any], int]:
    """One lookup under a sampled root span; its result and the trace's id."""
    with sampled_root() as root:
        result = await get(cache, key, source, type=Product)
        return result, root.get_span_context().trace_id


async def test_a_level_1_hit_is_an_event_on_the_current_span_and_no_span(
    make_cache: MakeCache, spans: SpanRecorder
) -> None:
    cache, source = make_cache(), Source(Product("p1", "Lamp"))
    key = CacheKey.shared("product", "p1")
    with sampled_root() as root, in_part("product"):
        loaded = await get(cache, key, source, type=Product)
        held = await get(cache, key, source, type=Product)
        trace_id = root.get_span_context().trace_id
    assert (loaded.status, held.status) == ("miss", "hit")

    (miss,) = lookups_under(spans, trace_id)  # the load: a span of its own
    assert miss.name == "cache.lookup product"
    assert dict(miss.attributes or {})["cache.hit"] is False
    (finished_root,) = [s for s in spans.of_trace(trace_id) if s.name == "test"]
    (event,) = [e for e in finished_root.events if e.name == "cache.lookup product"]
    assert dict(event.attributes or {}) == {
        "cache.kind": "product",
        "cache.key_kind": "shared",
        "cache.hit": True,
        "cache.stale": False,
        "bff.part": "product",
    }


async def test_a_hit_from_redis_is_still_a_span(make_cache: MakeCache, spans: SpanRecorder) -> None:
    """Another instance's level 1 does not hold it: the read crosses to Redis, a span."""
    first, second = make_cache(), make_cache()
    source = Source(Product("p2", "Desk"))
    key = CacheKey.shared("product", "p2")
    await get(first, key, source, type=Product)
    await first.writes_done()
    from_redis, trace_id = await traced_get(second, key, source)
    assert from_redis.status == "hit"
    (lookup,) = lookups_under(spans, trace_id)
    assert dict(lookup.attributes or {})["cache.hit"] is True
    (finished_root,) = [s for s in spans.of_trace(trace_id) if s.name == "test"]
    assert [e.name for e in finished_root.events] == []


async def test_a_stale_entry_in_level_1_is_a_span_with_its_refresh(
    make_cache: MakeCache, spans: SpanRecorder, clock: FakeClock
) -> None:
    """Only a fresh entry is answered without a span: a stale one still held in level 1 starts
    a refresh, whose core call must hang under a lookup span."""
    cache, source = make_cache(local_ttl=300.0), Source(Product("p3", "Chair"))
    key = CacheKey.shared("product", "p3")
    await get(cache, key, source, type=Product)
    clock.advance(TTL + 5)  # past the TTL, inside the stale window, still in level 1
    stale, trace_id = await traced_get(cache, key, source)
    assert stale.status == "stale"
    (lookup,) = lookups_under(spans, trace_id)
    assert dict(lookup.attributes or {})["cache.stale"] is True
