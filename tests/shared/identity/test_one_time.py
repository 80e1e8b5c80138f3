"""One-time values and replay markers: the same behaviour in memory and in a real Redis."""

from __future__ import annotations

import pytest

from shared.identity.one_time import OneTimeStore
from shared.identity.stores import IdentityStores
from tests.fixtures.clock import FakeClock
from tests.shared.identity.support import pass_time, stores

pytestmark = pytest.mark.anyio

__all__ = ["stores"]  # a fixture, used by name


@pytest.fixture
def store(stores: IdentityStores) -> OneTimeStore:
    return stores.one_time


# -- one-time values and replay markers ------------------------------------------------------


async def test_one_time_value_can_be_taken_once(store: OneTimeStore) -> None:
    await store.put("code-123", b"payload", ttl=30)

    assert await store.take("code-123") == b"payload"
    assert await store.take("code-123") is None
    assert await store.take("never-put") is None


async def test_one_time_value_expires(store: OneTimeStore) -> None:
    """The lifetime is sealed with the value and checked against the clock."""
    await store.put("code-456", b"payload", ttl=60)
    assert isinstance(store.clock, FakeClock)
    store.clock.advance(61)
    assert await store.take("code-456") is None


async def test_remember_once_detects_replays_until_it_forgets(store: OneTimeStore) -> None:
    """A logout token's jti is accepted once; a replay within the window is refused."""
    assert await store.remember_once("jti:abc", ttl=0.2) is True
    assert await store.remember_once("jti:abc", ttl=0.2) is False
    assert await store.remember_once("jti:other", ttl=0.2) is True
    await pass_time(store.clock, 0.3)
    assert await store.remember_once("jti:abc", ttl=0.2) is True


async def test_seen_reads_a_marker_without_leaving_one(store: OneTimeStore) -> None:
    """Asking whether a login state was used does not remember it: only ``remember_once`` does."""
    assert await store.seen("login-state:s1") is False
    assert await store.seen("login-state:s1") is False
    assert await store.remember_once("login-state:s1", ttl=0.2) is True
    assert await store.seen("login-state:s1") is True
    await pass_time(store.clock, 0.3)
    assert await store.seen("login-state:s1") is False
