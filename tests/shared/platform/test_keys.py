"""Keyed hashing: one derived key per purpose, stable, keyed, and readable across rotation."""

from __future__ import annotations

import hashlib

import pytest

from shared.platform.keys import PURPOSES, KeyedHasher

OLD_KEY = "old-secret-key-0123456789-abcdefghijklmnop"
NEW_KEY = "new-secret-key-9876543210-zyxwvutsrqponmlk"


def test_hash_is_stable_keyed_and_not_the_value() -> None:
    """Deterministic for one secret, different per secret, and neither the value nor its
    plain SHA-256 (so a low-entropy value such as an email cannot be guessed from it)."""
    first = KeyedHasher(NEW_KEY).hex("token", "alice@example.com")
    assert first == KeyedHasher(NEW_KEY).hex("token", "alice@example.com")
    assert first != KeyedHasher(OLD_KEY).hex("token", "alice@example.com")
    assert first != KeyedHasher(NEW_KEY).hex("token", "alice@example.co")
    assert first != hashlib.sha256(b"alice@example.com").hexdigest()
    assert "alice" not in first
    assert len(first) == 64


def test_every_purpose_has_its_own_key() -> None:
    """The same input never gives the same identifier for two purposes."""
    hasher = KeyedHasher(NEW_KEY)
    assert len({hasher.hex(purpose, "value") for purpose in PURPOSES}) == len(PURPOSES)


def test_parts_are_unambiguous() -> None:
    hasher = KeyedHasher(NEW_KEY)
    assert hasher.hex("etag", "ab", "c") != hasher.hex("etag", "a", "bc")
    assert hasher.hex("etag", "abc") != hasher.hex("etag", "ab", "c")
    assert hasher.hex("etag", b"x") == hasher.hex("etag", "x")


def test_candidates_find_what_the_previous_secret_hashed() -> None:
    """Current hash first, then the previous secret's, so lookups survive a rotation."""
    stored = KeyedHasher(OLD_KEY).hex("key-name", "alice")
    rotated = KeyedHasher(NEW_KEY, OLD_KEY)
    assert rotated.hex_candidates("key-name", "alice") == [
        rotated.hex("key-name", "alice"),
        stored,
    ]
    assert KeyedHasher(NEW_KEY).hex_candidates("key-name", "alice") == [
        KeyedHasher(NEW_KEY).hex("key-name", "alice")
    ]
    old_id = KeyedHasher(OLD_KEY).short("public-session-id", "s")
    assert rotated.short_candidates("public-session-id", "s")[1] == old_id


def test_same_previous_and_current_secret_is_one_key() -> None:
    assert len(KeyedHasher(NEW_KEY, NEW_KEY).hex_candidates("token", "x")) == 1


def test_short_ids_are_url_safe_and_144_bits() -> None:
    short = KeyedHasher(NEW_KEY).short("public-session-id", "session-id")
    assert len(short) == 24
    assert short.replace("-", "").replace("_", "").isalnum()


def test_nothing_is_hashed_from_no_parts() -> None:
    with pytest.raises(ValueError, match="at least one part"):
        KeyedHasher(NEW_KEY).hex("token")
