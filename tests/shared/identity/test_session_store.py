"""The session store: the same behaviour in memory and in a real Redis."""

from __future__ import annotations

import anyio
import msgspec
import pytest
import structlog
from redis.asyncio import Redis
from redis.crc import key_slot

from shared.identity.session_codec import SessionCodec
from shared.identity.session_store import SessionStore
from shared.identity.session_store_memory import MemorySessionStore
from shared.identity.session_store_redis import RedisSessionStore
from shared.identity.stores import IdentityStores
from shared.platform.crypto import TokenCipher
from tests.shared.identity.support import (
    ABSOLUTE,
    ALICE,
    BOB,
    IDLE,
    KEYS,
    NEW_KEY,
    OLD_KEY,
    dump,
    new_record,
    redis,
    redis_stores,
    rotate_keys,
    stores,
    token_set,
)

pytestmark = pytest.mark.anyio

__all__ = ["redis", "redis_stores", "stores"]  # fixtures, used by name


@pytest.fixture
def store(stores: IdentityStores) -> SessionStore:
    return stores.sessions


@pytest.fixture
def redis_store(redis_stores: IdentityStores) -> RedisSessionStore:
    assert isinstance(redis_stores.sessions, RedisSessionStore)
    return redis_stores.sessions


async def set_stored_field(store: SessionStore, session_id: str, field: str, value: bytes) -> None:
    """Write raw bytes into one stored field, as an attacker or a bug would."""
    if isinstance(store, MemorySessionStore):
        store._sessions[session_id].fields[field] = value
        return
    assert isinstance(store, RedisSessionStore)
    digest = KEYS.hex("session-key", session_id)
    [key] = [k async for k in store._redis.scan_iter(match=f"bff:sess:*:s:{digest}")]
    await store._redis.hset(key, field, value)


# -- round trip ------------------------------------------------------------------------------


async def test_created_session_reads_back_with_its_tokens(store: SessionStore) -> None:
    """What is stored comes back equal, and its tokens open."""
    record = new_record(store)
    await store.create(record)

    loaded = await store.get(record.id)
    assert loaded == record
    assert store.codec.open_tokens(loaded) == token_set()
    assert len(record.id) >= 43


async def test_unknown_session_is_missing(store: SessionStore) -> None:
    assert await store.get("x" * 43) is None


async def test_create_refuses_weak_reused_or_mismatched_ids(store: SessionStore) -> None:
    """Short ids, an id already in use and tokens sealed for another id never get stored."""
    record = new_record(store)
    await store.create(record)
    with pytest.raises(ValueError, match="already in use"):
        await store.create(record)
    with pytest.raises(ValueError, match="256"):
        await store.create(msgspec.structs.replace(record, id="short"))
    other = new_record(store)
    with pytest.raises(ValueError, match="not sealed for this session"):
        await store.create(msgspec.structs.replace(other, tokens=record.tokens))


def test_token_set_repr_hides_tokens() -> None:
    assert "ACCESS" not in repr(token_set())
    assert "REFRESH" not in str(token_set())


# -- key rotation and bad data ---------------------------------------------------------------


async def test_sessions_survive_a_key_rotation(store: SessionStore) -> None:
    """Written with the old key; the new key with the old one as previous still opens it."""
    record = new_record(store)
    await store.create(record)

    rotate_keys(store, NEW_KEY, OLD_KEY)  # a restart with rotated keys
    loaded = await store.get(record.id)
    assert loaded is not None
    assert store.codec.open_tokens(loaded) == token_set()
    assert [r.id for r in await store.list_for_user(ALICE)] == [record.id]


async def test_session_whose_key_is_gone_is_deleted(store: SessionStore) -> None:
    """Without the old key the tokens do not open: the session is missing and deleted."""
    record = new_record(store)
    await store.create(record)

    store.codec = SessionCodec(TokenCipher(NEW_KEY))  # the sealing key retired too early
    assert await store.get(record.id) is None
    store.codec = SessionCodec(TokenCipher(OLD_KEY))
    assert await store.get(record.id) is None  # deleted, not just hidden


async def test_lookups_by_user_and_idp_sid_find_sessions_indexed_under_the_old_key(
    store: SessionStore,
) -> None:
    old = new_record(store, idp_sid="idp-sid-1")
    await store.create(old)
    rotate_keys(store, NEW_KEY, OLD_KEY)
    new = new_record(store, idp_sid="idp-sid-1")
    await store.create(new)

    assert {r.id for r in await store.list_for_user(ALICE)} == {old.id, new.id}
    assert await store.end_by_idp_sid("idp-sid-1") == 2
    assert await store.list_for_user(ALICE) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tokens", b'{"ciphertext":"AAAA"}'),
        ("tokens", b"not json"),
        ("claims", b"{broken"),
        ("kind", b'"admin"'),
        ("absolute_expires_at", b'"tomorrow"'),
        ("id", b'"another-id-of-enough-length-0123456789abcdef"'),
    ],
)
async def test_tampered_record_is_missing_and_deleted(
    store: SessionStore, field: str, value: bytes
) -> None:
    """Changed bytes never become a 500: the session is reported missing and removed."""
    record = new_record(store)
    await store.create(record)
    await set_stored_field(store, record.id, field, value)

    with structlog.testing.capture_logs() as logs:
        assert await store.get(record.id) is None
    assert [e["event"] for e in logs] == ["session_record_discarded"]
    assert await store.list_for_user(ALICE) == []
    assert await store.touch(record.id, record.created_at + 1, IDLE) is False


async def test_tokens_moved_from_another_session_do_not_open(store: SessionStore) -> None:
    """The session id is the associated data: copying another session's tokens is detected."""
    victim = new_record(store, n=1)
    attacker = new_record(store, BOB, n=2)
    await store.create(victim)
    await store.create(attacker)
    await set_stored_field(store, attacker.id, "tokens", msgspec.json.encode(victim.tokens))

    assert await store.get(attacker.id) is None
    assert await store.get(victim.id) is not None


# -- timeouts --------------------------------------------------------------------------------


async def test_idle_session_expires_and_is_deleted(store: SessionStore) -> None:
    record = new_record(store, idle=60)
    await store.create(record)

    assert await store.get(record.id, now=record.created_at + 59) is not None
    assert await store.get(record.id, now=record.created_at + 61) is None
    assert await store.get(record.id, now=record.created_at) is None


async def test_absolute_timeout_ends_even_an_active_session(store: SessionStore) -> None:
    record = new_record(store, idle=60, absolute=100)
    await store.create(record)
    t = record.created_at
    assert await store.touch(record.id, t + 50, 60)

    assert await store.get(record.id, now=t + 99) is not None
    assert await store.get(record.id, now=t + 100) is None


async def test_touch_slides_idle_expiry_capped_at_absolute(store: SessionStore) -> None:
    """Activity extends the idle window, but never beyond the absolute expiry."""
    record = new_record(store, idle=60, absolute=100)
    await store.create(record)
    t = record.created_at

    assert await store.touch(record.id, t + 30, 60)
    loaded = await store.get(record.id, now=t + 31)
    assert loaded is not None
    assert loaded.last_seen_at == t + 30
    assert loaded.idle_expires_at == t + 90

    assert await store.touch(record.id, t + 80, 60)
    loaded = await store.get(record.id, now=t + 81)
    assert loaded is not None
    assert loaded.idle_expires_at == loaded.absolute_expires_at == t + 100


async def test_touch_does_not_revive_an_expired_session(store: SessionStore) -> None:
    record = new_record(store, idle=60)
    await store.create(record)

    assert await store.touch(record.id, record.created_at + 61, 60) is False
    assert await store.get(record.id, now=record.created_at + 62) is None
    assert await store.touch("y" * 43, record.created_at, 60) is False


# -- updates and deletes ---------------------------------------------------------------------


async def test_update_tokens_and_extra_replace_only_their_fields(store: SessionStore) -> None:
    record = new_record(store)
    await store.create(record)
    t = record.created_at

    assert await store.update_tokens(record.id, token_set(2))
    assert await store.touch(record.id, t + 5, IDLE)
    assert await store.update_extra(record.id, {"family": "f-2", "generation": 2})

    loaded = await store.get(record.id, now=t + 6)
    assert loaded is not None
    assert store.codec.open_tokens(loaded) == token_set(2)
    assert loaded.extra == {"family": "f-2", "generation": 2}
    assert loaded.last_seen_at == t + 5


async def test_parallel_touches_never_undo_a_token_refresh(store: SessionStore) -> None:
    """Requests touching the session while a refresh stores new tokens keep the new tokens."""
    record = new_record(store)
    await store.create(record)
    t = record.created_at

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(store.touch, record.id, t + i / 10, IDLE)
        tg.start_soon(store.update_tokens, record.id, token_set(2))

    loaded = await store.get(record.id, now=t + 3)
    assert loaded is not None
    assert store.codec.open_tokens(loaded) == token_set(2)


async def test_updates_after_logout_do_not_bring_the_session_back(store: SessionStore) -> None:
    """A refresh that finishes after the logout must not resurrect the session."""
    record = new_record(store)
    await store.create(record)
    assert await store.delete(record.id)

    assert await store.update_tokens(record.id, token_set(2)) is False
    assert await store.update_extra(record.id, {}) is False
    assert await store.touch(record.id, record.created_at + 1, IDLE) is False
    assert await store.get(record.id) is None
    assert await store.delete(record.id) is False


# -- indexes ---------------------------------------------------------------------------------


async def test_list_for_user_returns_live_sessions_and_prunes_expired(
    store: SessionStore,
) -> None:
    long_lived = new_record(store, kind="web")
    short_lived = new_record(store, kind="mobile", idle=10)
    await store.create(long_lived)
    await store.create(short_lived)
    t = long_lived.created_at

    listed = await store.list_for_user(ALICE, now=t + 1)
    assert {r.id for r in listed} == {long_lived.id, short_lived.id}
    assert [r.id for r in await store.list_for_user(ALICE, now=t + 20)] == [long_lived.id]
    assert await store.get(short_lived.id, now=t + 1) is None  # pruned means deleted


async def test_end_all_for_user_ends_every_device_of_that_user_only(
    store: SessionStore,
) -> None:
    web = new_record(store, kind="web")
    mobile = new_record(store, kind="mobile", idp_sid=None)
    bob = new_record(store, BOB)
    for record in (web, mobile, bob):
        await store.create(record)

    assert await store.end_all_for_user(ALICE) == 2
    assert await store.get(web.id) is None
    assert await store.get(mobile.id) is None
    assert await store.list_for_user(ALICE) == []
    assert await store.get(bob.id) is not None
    assert await store.end_all_for_user(ALICE) == 0


async def test_end_by_idp_sid_ends_only_the_matching_sessions(store: SessionStore) -> None:
    """Back-channel logout for one IdP session leaves the user's other sessions alone."""
    first = new_record(store, idp_sid="idp-A")
    second = new_record(store, idp_sid="idp-B")
    no_sid = new_record(store, idp_sid=None)
    bob = new_record(store, BOB, idp_sid="idp-C")
    for record in (first, second, no_sid, bob):
        await store.create(record)

    assert await store.end_by_idp_sid("idp-A") == 1
    assert await store.get(first.id) is None
    assert {r.id for r in await store.list_for_user(ALICE)} == {second.id, no_sid.id}
    assert await store.get(bob.id) is not None
    assert await store.end_by_idp_sid("idp-A") == 0
    assert await store.end_by_idp_sid("unknown") == 0


async def test_users_never_see_each_others_sessions(store: SessionStore) -> None:
    alice = new_record(store, ALICE)
    bob = new_record(store, BOB)
    similar = new_record(store, ALICE.upper())
    for record in (alice, bob, similar):
        await store.create(record)

    assert [r.id for r in await store.list_for_user(ALICE)] == [alice.id]
    assert [r.id for r in await store.list_for_user(BOB)] == [bob.id]
    assert [r.id for r in await store.list_for_user(ALICE.upper())] == [similar.id]
    assert await store.list_for_user("carol@example.com") == []


async def test_redis_holds_no_usable_token_and_no_identifier_in_key_names(
    redis_stores: IdentityStores, redis_store: RedisSessionStore, redis: Redis
) -> None:
    """A copy of Redis yields no token and no session id; key names hold no sub or IdP sid."""
    record = new_record(redis_store, idp_sid="idp-sid-secret")
    await redis_store.create(record)
    await redis_stores.one_time.put("code-789", b"one-time-PAYLOAD", ttl=30)

    found = await dump(redis)
    values = b"\n".join(found.values())
    for secret in (
        b"ACCESS-TOKEN",
        b"REFRESH-TOKEN",
        b"ID-TOKEN",
        b"one-time-PAYLOAD",
        record.id.encode(),
    ):
        assert secret not in values
    names = b"\n".join(found)
    for identifier in (record.id, ALICE, "idp-sid-secret", "code-789"):
        assert identifier.encode() not in names


async def test_a_users_record_and_index_share_one_hash_slot(
    redis_store: RedisSessionStore, redis: Redis
) -> None:
    """The atomic create touches one slot only, so it also runs on a Redis Cluster."""
    await redis_store.create(new_record(redis_store))
    await redis_store.create(new_record(redis_store))
    user_keys = [k async for k in redis.scan_iter(match="bff:sess:{u:*")]
    assert len(user_keys) == 3  # two records and the index
    assert len({key_slot(k) for k in user_keys}) == 1


async def test_index_forgets_records_that_redis_expired(
    redis_store: RedisSessionStore, redis: Redis
) -> None:
    """Redis drops the record by TTL; listing prunes the index, which also carries a TTL."""
    record = new_record(redis_store, idle=0.1, absolute=ABSOLUTE)
    await redis_store.create(record)
    [index] = [k async for k in redis.scan_iter(match="bff:sess:{u:*}:all")]
    assert 0 < await redis.pttl(index) <= ABSOLUTE * 1000

    await anyio.sleep(0.2)
    assert await redis.scard(index) == 1
    assert await redis_store.list_for_user(ALICE) == []
    assert await redis.exists(index) == 0
    assert await redis_store.get(record.id) is None


async def test_garbage_pointer_is_treated_as_missing(
    redis_store: RedisSessionStore, redis: Redis
) -> None:
    record = new_record(redis_store)
    await redis_store.create(record)
    digest = KEYS.hex("session-key", record.id)
    await redis.set(f"bff:sess:id:{digest}", b"\xff{not-a-hash}")

    assert await redis_store.get(record.id) is None
    assert await redis.exists(f"bff:sess:id:{digest}") == 0


async def test_get_and_slide_slides_only_once_the_interval_has_passed(store: SessionStore) -> None:
    """One step reads the record and, when it is due, slides it; the record comes back as
    stored after the slide."""
    record = new_record(store, idle=60, absolute=1000)
    await store.create(record)
    t = record.created_at

    early = await store.get_and_slide(record.id, now=t + 2, idle_timeout=60, min_interval=3)
    assert early is not None
    assert early.idle_expires_at == t + 60  # not slid: too soon
    due = await store.get_and_slide(record.id, now=t + 5, idle_timeout=60, min_interval=3)
    assert due is not None
    assert (due.last_seen_at, due.idle_expires_at) == (t + 5, t + 65)
    assert await store.get(record.id, now=t + 64) == due
    late = await store.get_and_slide(record.id, now=t + 66, idle_timeout=60, min_interval=3)
    assert late is None  # expired: never revived


async def test_a_remembered_pointer_never_serves_a_session_ended_elsewhere(
    redis_stores: IdentityStores, redis: Redis
) -> None:
    """Each instance remembers where a session lives, not the session: ended on another
    instance, it is refused by this one on the very next read."""
    here = redis_stores.sessions
    assert isinstance(here, RedisSessionStore)
    elsewhere = RedisSessionStore(redis, here.codec, KEYS, here.clock)
    record = new_record(here)
    await here.create(record)
    assert await here.get(record.id) is not None  # this instance now knows the pointer
    assert await elsewhere.delete(record.id)
    assert await here.get(record.id) is None
    now = here.clock.time()
    assert await here.get_and_slide(record.id, now=now, idle_timeout=60, min_interval=0) is None
