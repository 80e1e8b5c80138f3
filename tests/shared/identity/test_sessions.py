"""Session stores: the same behaviour in memory and in a real Redis."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import anyio
import msgspec
import pytest
import structlog
from redis.asyncio import Redis
from redis.crc import key_slot

from shared.identity.records import SessionKind, SessionRecord, TokenSet
from shared.identity.sessions import MemorySessionStore, RedisSessionStore, SessionStore
from shared.platform.crypto import TokenCipher
from shared.platform.redis import create_redis_client

pytestmark = pytest.mark.anyio

OLD_KEY = "old-secret-key-0123456789-abcdefghijklmnop"
NEW_KEY = "new-secret-key-9876543210-zyxwvutsrqponmlk"
IDLE = 300.0
ABSOLUTE = 3600.0
ALICE = "alice@example.com"
BOB = "bob@example.com"


def token_set(n: int = 1) -> TokenSet:
    return TokenSet(
        access_token=f"ACCESS-TOKEN-{n}-do-not-store",
        refresh_token=f"REFRESH-TOKEN-{n}-do-not-store",
        id_token=f"ID-TOKEN-{n}",
        access_token_expires_at=2_000_000_000.0 + n,
    )


def new_record(
    store: SessionStore,
    sub: str = ALICE,
    *,
    idp_sid: str | None = "idp-sid-1",
    kind: SessionKind = "web",
    idle: float = IDLE,
    absolute: float = ABSOLUTE,
    n: int = 1,
) -> SessionRecord:
    return store.new_record(
        kind=kind,
        sub=sub,
        tokens=token_set(n),
        claims={"name": "Alice", "email": sub},
        idle_timeout=idle,
        absolute_timeout=absolute,
        idp_sid=idp_sid,
        user_agent="pytest",
        extra={"family": "f-1"},
    )


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    cipher = TokenCipher(OLD_KEY)
    if request.param == "memory":
        yield MemorySessionStore(cipher)
        return
    client = create_redis_client(request.getfixturevalue("redis_url"))
    try:
        yield RedisSessionStore(client, cipher)
    finally:
        await client.aclose()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def set_stored_field(store: SessionStore, session_id: str, field: str, value: bytes) -> None:
    """Write raw bytes into one stored field, as an attacker or a bug would."""
    if isinstance(store, MemorySessionStore):
        store._sessions[session_id].fields[field] = value
        return
    assert isinstance(store, RedisSessionStore)
    digest = hashlib.sha256(session_id.encode()).hexdigest()
    [key] = [k async for k in store._redis.scan_iter(match=f"bff:sess:*:s:{digest}")]
    await store._redis.hset(key, field, value)


# -- round trip ------------------------------------------------------------------------------


async def test_created_session_reads_back_with_its_tokens(store: SessionStore) -> None:
    """What is stored comes back equal, and its tokens open."""
    record = new_record(store)
    await store.create(record)

    loaded = await store.get(record.id)
    assert loaded == record
    assert store.open_tokens(loaded) == token_set()
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

    store.cipher = TokenCipher(NEW_KEY, previous_key=OLD_KEY)  # a restart with rotated keys
    loaded = await store.get(record.id)
    assert loaded is not None
    assert store.open_tokens(loaded) == token_set()
    assert [r.id for r in await store.list_for_user(ALICE)] == [record.id]


async def test_session_whose_key_is_gone_is_deleted(store: SessionStore) -> None:
    """Without the old key the tokens do not open: the session is missing and deleted."""
    record = new_record(store)
    await store.create(record)

    store.cipher = TokenCipher(NEW_KEY)
    assert await store.get(record.id) is None
    store.cipher = TokenCipher(OLD_KEY)
    assert await store.get(record.id) is None  # deleted, not just hidden


async def test_lookups_by_user_and_idp_sid_find_sessions_indexed_under_the_old_key(
    store: SessionStore,
) -> None:
    old = new_record(store, idp_sid="idp-sid-1")
    await store.create(old)
    store.cipher = TokenCipher(NEW_KEY, previous_key=OLD_KEY)
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
    assert store.open_tokens(loaded) == token_set(2)
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
    assert store.open_tokens(loaded) == token_set(2)


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


# -- one-time values and replay markers ------------------------------------------------------


async def test_one_time_value_can_be_taken_once(store: SessionStore) -> None:
    await store.put_one_time("code-123", b"payload", ttl=30)

    assert await store.take_one_time("code-123") == b"payload"
    assert await store.take_one_time("code-123") is None
    assert await store.take_one_time("never-put") is None


async def test_one_time_value_expires(store: SessionStore) -> None:
    await store.put_one_time("code-456", b"payload", ttl=0.05)
    await anyio.sleep(0.1)
    assert await store.take_one_time("code-456") is None


async def test_remember_once_detects_replays_until_it_forgets(store: SessionStore) -> None:
    """A logout token's jti is accepted once; a replay within the window is refused."""
    assert await store.remember_once("jti:abc", ttl=0.2) is True
    assert await store.remember_once("jti:abc", ttl=0.2) is False
    assert await store.remember_once("jti:other", ttl=0.2) is True
    await anyio.sleep(0.3)
    assert await store.remember_once("jti:abc", ttl=0.2) is True


# -- bearer-token index ----------------------------------------------------------------------

BEARER = "opaque-bearer-token-0123456789-abcdefghijklmnop"


async def test_a_token_hash_leads_to_its_session_until_dropped(store: SessionStore) -> None:
    """The index maps a token's keyed hash to the session id; dropping it is atomic."""
    record = new_record(store, kind="mobile")
    await store.create(record)
    token_hash = store.cipher.hash_token(BEARER)

    await store.index_token("access", token_hash, record.id, ttl=60)
    assert await store.lookup_token("access", token_hash) == record.id
    assert await store.lookup_token("access", store.cipher.hash_token("another")) is None
    assert await store.drop_token("access", token_hash) is True
    assert await store.drop_token("access", token_hash) is False
    assert await store.lookup_token("access", token_hash) is None


async def test_one_kind_of_token_is_never_found_as_another(store: SessionStore) -> None:
    """A refresh token presented as an access token (or the reverse) finds nothing."""
    token_hash = store.cipher.hash_token(BEARER)
    await store.index_token("refresh", token_hash, "s" * 43, ttl=60)

    assert await store.lookup_token("access", token_hash) is None
    assert await store.lookup_token("refresh", token_hash) == "s" * 43


async def test_a_token_index_entry_expires(store: SessionStore) -> None:
    token_hash = store.cipher.hash_token(BEARER)
    await store.index_token("access", token_hash, "s" * 43, ttl=0.05)
    await anyio.sleep(0.1)
    assert await store.lookup_token("access", token_hash) is None
    assert await store.drop_token("access", token_hash) is False


async def test_a_token_hash_cannot_be_indexed_twice(store: SessionStore) -> None:
    """An entry is never silently repointed at another session."""
    token_hash = store.cipher.hash_token(BEARER)
    await store.index_token("access", token_hash, "s" * 43, ttl=60)
    with pytest.raises(ValueError, match="already indexed"):
        await store.index_token("access", token_hash, "t" * 43, ttl=60)
    assert await store.lookup_token("access", token_hash) == "s" * 43


@pytest.mark.parametrize(
    ("kind", "token_hash"),
    [
        ("access", BEARER),  # the token itself, not its hash
        ("access", "ab" * 31),
        ("access", "AB" * 32),
        ("Access", "ab" * 32),
        ("access:x", "ab" * 32),
        ("", "ab" * 32),
    ],
)
async def test_only_keyed_hashes_and_plain_kinds_are_accepted(
    store: SessionStore, kind: str, token_hash: str
) -> None:
    """A token passed in clear by mistake, or a kind that could shape a key name, is refused."""
    with pytest.raises(ValueError, match=r"kind|hash"):
        await store.index_token(kind, token_hash, "s" * 43, ttl=60)
    with pytest.raises(ValueError, match=r"kind|hash"):
        await store.lookup_token(kind, token_hash)
    with pytest.raises(ValueError, match=r"kind|hash"):
        await store.drop_token(kind, token_hash)


async def test_token_entries_survive_a_key_rotation(store: SessionStore) -> None:
    """Indexed under the old key; after rotation the previous-key hash still finds it."""
    old_hash = store.cipher.hash_token(BEARER)
    await store.index_token("refresh", old_hash, "s" * 43, ttl=60)

    store.cipher = TokenCipher(NEW_KEY, previous_key=OLD_KEY)
    candidates = store.cipher.hash_token_candidates(BEARER)
    assert candidates[0] != old_hash
    found = [await store.lookup_token("refresh", h) for h in candidates]
    assert found == [None, "s" * 43]


async def test_a_token_entry_whose_key_is_gone_is_missing_and_deleted(
    store: SessionStore,
) -> None:
    token_hash = store.cipher.hash_token(BEARER)
    await store.index_token("access", token_hash, "s" * 43, ttl=60)

    store.cipher = TokenCipher(NEW_KEY)
    assert await store.lookup_token("access", token_hash) is None
    store.cipher = TokenCipher(OLD_KEY)
    assert await store.lookup_token("access", token_hash) is None  # deleted, not just hidden


# -- Redis only: what is at rest, key slots, TTLs --------------------------------------------


@pytest.fixture
async def redis_store(redis: Redis) -> RedisSessionStore:
    return RedisSessionStore(redis, TokenCipher(OLD_KEY))


async def _dump(redis: Redis) -> dict[bytes, bytes]:
    """Every key with its value(s) as one blob of bytes."""

    def b(value: bytes | str) -> bytes:
        return value.encode() if isinstance(value, str) else value

    dump: dict[bytes, bytes] = {}
    async for key in redis.scan_iter():
        kind = await redis.type(key)
        if kind == b"hash":
            fields = await redis.hgetall(key)
            dump[key] = b"|".join(b(k) + b"=" + b(v) for k, v in fields.items())
        elif kind == b"set":
            dump[key] = b"|".join(b(m) for m in await redis.smembers(key))
        else:
            dump[key] = b(await redis.get(key) or b"")
    return dump


async def test_redis_holds_no_usable_token_and_no_identifier_in_key_names(
    redis_store: RedisSessionStore, redis: Redis
) -> None:
    """A copy of Redis yields no token and no session id; key names hold no sub or IdP sid."""
    record = new_record(redis_store, idp_sid="idp-sid-secret")
    await redis_store.create(record)
    await redis_store.put_one_time("code-789", b"one-time-PAYLOAD", ttl=30)

    dump = await _dump(redis)
    values = b"\n".join(dump.values())
    for secret in (
        b"ACCESS-TOKEN",
        b"REFRESH-TOKEN",
        b"ID-TOKEN",
        b"one-time-PAYLOAD",
        record.id.encode(),
    ):
        assert secret not in values
    names = b"\n".join(dump)
    for identifier in (record.id, ALICE, "idp-sid-secret", "code-789"):
        assert identifier.encode() not in names


async def test_the_token_index_holds_neither_tokens_nor_session_ids_in_clear(
    redis_store: RedisSessionStore, redis: Redis
) -> None:
    """A copy of Redis shows only keyed hashes of bearer tokens and sealed session ids."""
    record = new_record(redis_store, kind="mobile")
    await redis_store.create(record)
    await redis_store.index_token("access", redis_store.cipher.hash_token(BEARER), record.id, 60)

    dump = await _dump(redis)
    [token_key] = [k for k in dump if k.startswith(b"bff:sess:tok:access:")]
    everything = b"\n".join([*dump, *dump.values()])
    assert BEARER.encode() not in everything
    assert record.id.encode() not in dump[token_key]
    assert 0 < await redis.pttl(token_key) <= 60_000


async def test_a_tampered_token_entry_is_missing_and_deleted(
    redis_store: RedisSessionStore, redis: Redis
) -> None:
    """An entry moved to another token's key (or rewritten) does not open: never a session."""
    first, second = redis_store.cipher.hash_token("first"), redis_store.cipher.hash_token("second")
    await redis_store.index_token("access", first, "s" * 43, 60)
    await redis.set(
        f"bff:sess:tok:access:{second}", await redis.get(f"bff:sess:tok:access:{first}")
    )

    assert await redis_store.lookup_token("access", second) is None
    assert await redis.exists(f"bff:sess:tok:access:{second}") == 0
    assert await redis_store.lookup_token("access", first) == "s" * 43


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
    digest = hashlib.sha256(record.id.encode()).hexdigest()
    await redis.set(f"bff:sess:id:{digest}", b"\xff{not-a-hash}")

    assert await redis_store.get(record.id) is None
    assert await redis.exists(f"bff:sess:id:{digest}") == 0
