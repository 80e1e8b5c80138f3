"""Level 1: bounded by entry count, and each entry kept only until its time."""

from __future__ import annotations

import msgspec

from shared.cache.entries import value_envelope
from shared.cache.local import LocalEntries, Lru


def test_the_least_recently_used_entry_goes_first() -> None:
    lru: Lru[int] = Lru(max_entries=2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # "b" is now the least recently used
    lru.put("c", 3)
    assert (lru.get("a"), lru.get("b"), lru.get("c")) == (1, None, 3)


def test_an_entry_is_dropped_at_its_keep_until() -> None:
    entries = LocalEntries(max_entries=10)
    envelope, _ = value_envelope("v", "", 0.0)
    entries.put("bff:cache:core:v:{s:product:1}", envelope, keep_until=100.0, now=0.0)
    assert entries.get("bff:cache:core:v:{s:product:1}", now=99.9) == envelope
    assert entries.get("bff:cache:core:v:{s:product:1}", now=100.0) is None
    assert entries.get("bff:cache:core:v:{s:product:1}", now=0.0) is None, "gone for good"


def test_dropping_by_name_leaves_the_others() -> None:
    entries = LocalEntries(max_entries=10)
    envelope, _ = value_envelope("v", "", 0.0)
    for name in ("orders", "orders:page-2", "ordersx", "home"):
        entries.put(name, envelope, keep_until=100.0, now=0.0)
    entries.drop_where(lambda name: name == "orders" or name.startswith("orders:"))
    kept = [name for name in ("orders", "orders:page-2", "ordersx", "home") if entries.get(name, 0)]
    assert kept == ["ordersx", "home"]


def test_entries_past_their_time_are_forgotten_as_new_ones_come() -> None:
    """Keys read once and never again do not pile up to the count bound: each new entry takes
    a few expired ones from the old end with it."""
    entries = LocalEntries(max_entries=10_000)
    envelope, _ = value_envelope("v", "", 0.0)
    for second in range(100):
        for key in range(30):  # 30 keys a second, never read again, each kept for 1 s
            entries.put(f"product:{second}:{key}", envelope, keep_until=second + 1.0, now=second)
    assert len(entries) <= 60  # about the last second's worth, not 3,000
    assert entries.get("product:99:0", now=99.5) == envelope


def test_a_held_entry_is_decoded_once_per_type_and_others_each_time() -> None:
    """A product read from level 1 by every request is decoded once; an envelope that is not
    the one held under its name (read from Redis, or replaced meanwhile) is decoded for its
    caller alone."""
    entries = LocalEntries(max_entries=10)
    name = "bff:cache:core:v:{s:product:1}"
    envelope, _ = value_envelope(Product(id="1", title="Lamp"), "", 0.0)
    entries.put(name, envelope, keep_until=100.0, now=0.0)

    first = entries.decode(name, envelope, Product)
    assert first == Product(id="1", title="Lamp")
    assert entries.decode(name, envelope, Product) is first
    as_mapping = entries.decode(name, envelope, dict[str, str])
    assert as_mapping == {"id": "1", "title": "Lamp"}  # another type: decoded into it

    from_redis, _ = value_envelope(Product(id="1", title="Lamp"), "", 0.0)
    assert entries.decode(name, from_redis, Product) == first
    assert entries.decode(name, from_redis, Product) is not entries.decode(
        name, from_redis, Product
    )

    newer, _ = value_envelope(Product(id="1", title="Desk lamp"), "", 1.0)
    entries.put(name, newer, keep_until=100.0, now=1.0)
    assert entries.decode(name, newer, Product).title == "Desk lamp"


class Product(msgspec.Struct, frozen=True):
    id: str
    title: str
