"""A session keeps what it may do (roles, scopes, login time) on both stores; records written
before that existed still open, with no roles and no known login time."""

from __future__ import annotations

import msgspec
import pytest

from shared.identity.records import SessionAccess
from shared.identity.session_store import SessionStore
from shared.identity.session_store_memory import MemorySessionStore
from shared.identity.session_store_redis import RedisSessionStore
from shared.identity.stores import IdentityStores
from shared.platform.crypto import new_opaque_id
from tests.shared.identity.support import ALICE, KEYS, new_record, redis, stores

pytestmark = pytest.mark.anyio

__all__ = ["redis", "stores"]  # fixtures, used by name

SUPPORT_ACCESS = SessionAccess(
    roles=frozenset({"support"}), scopes=frozenset({"openid", "email"}), authenticated_at=1e9
)


@pytest.fixture
def store(stores: IdentityStores) -> SessionStore:
    return stores.sessions


async def drop_stored_field(store: SessionStore, session_id: str, field: str) -> None:
    """Remove one stored field, as a record written by an older release lacks it."""
    if isinstance(store, MemorySessionStore):
        del store._sessions[session_id].fields[field]
        return
    assert isinstance(store, RedisSessionStore)
    digest = KEYS.hex("session-key", session_id)
    [key] = [k async for k in store._redis.scan_iter(match=f"bff:sess:*:s:{digest}")]
    assert await store._redis.hdel(key, field) == 1


async def test_access_is_stored_read_back_and_replaced(store: SessionStore) -> None:
    record = msgspec.structs.replace(new_record(store), access=SUPPORT_ACCESS)
    await store.create(record)
    stored = await store.get(record.id)
    assert stored is not None
    assert stored.access == SUPPORT_ACCESS

    fewer = SessionAccess(scopes=frozenset({"openid"}), authenticated_at=1e9)
    assert await store.update_access(record.id, fewer) is True
    stored = await store.get(record.id)
    assert stored is not None
    assert stored.access == fewer
    assert await store.update_access(new_opaque_id(), fewer) is False


async def test_a_record_from_before_access_existed_opens_with_none(store: SessionStore) -> None:
    record = msgspec.structs.replace(new_record(store), access=SUPPORT_ACCESS)
    await store.create(record)
    await drop_stored_field(store, record.id, "access")

    stored = await store.get(record.id)
    assert stored is not None
    assert stored.access == SessionAccess()
    assert [r.id for r in await store.list_for_user(ALICE)] == [record.id]
