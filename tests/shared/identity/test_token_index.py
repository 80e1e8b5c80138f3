"""The bearer-token index: the same behaviour in memory and in a real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from shared.identity.stores import IdentityStores
from shared.identity.token_index import TokenIndex
from shared.platform.crypto import TokenCipher
from shared.platform.keys import KeyedHasher
from tests.shared.identity.support import (
    KEYS,
    NEW_KEY,
    OLD_KEY,
    dump,
    new_record,
    pass_time,
    redis,
    redis_stores,
    stores,
)

pytestmark = pytest.mark.anyio

__all__ = ["redis", "redis_stores", "stores"]  # fixtures, used by name


@pytest.fixture
def index(stores: IdentityStores) -> TokenIndex:
    return stores.tokens


# -- bearer-token index ----------------------------------------------------------------------

BEARER = "opaque-bearer-token-0123456789-abcdefghijklmnop"


async def test_a_token_hash_leads_to_its_session_until_dropped(
    stores: IdentityStores, index: TokenIndex
) -> None:
    """The index maps a token's keyed hash to the session id; dropping it is atomic."""
    record = new_record(stores.sessions, kind="mobile")
    await stores.sessions.create(record)
    token_hash = KEYS.hex("token", BEARER)

    await index.add("access", token_hash, record.id, ttl=60)
    assert await index.lookup("access", token_hash) == record.id
    assert await index.lookup("access", KEYS.hex("token", "another")) is None
    assert await index.drop("access", token_hash) is True
    assert await index.drop("access", token_hash) is False
    assert await index.lookup("access", token_hash) is None


async def test_one_kind_of_token_is_never_found_as_another(index: TokenIndex) -> None:
    """A refresh token presented as an access token (or the reverse) finds nothing."""
    token_hash = KEYS.hex("token", BEARER)
    await index.add("refresh", token_hash, "s" * 43, ttl=60)

    assert await index.lookup("access", token_hash) is None
    assert await index.lookup("refresh", token_hash) == "s" * 43


async def test_a_token_index_entry_expires(index: TokenIndex) -> None:
    token_hash = KEYS.hex("token", BEARER)
    await index.add("access", token_hash, "s" * 43, ttl=0.05)
    await pass_time(index.clock, 0.1)
    assert await index.lookup("access", token_hash) is None
    assert await index.drop("access", token_hash) is False


async def test_a_token_hash_cannot_be_indexed_twice(index: TokenIndex) -> None:
    """An entry is never silently repointed at another session."""
    token_hash = KEYS.hex("token", BEARER)
    await index.add("access", token_hash, "s" * 43, ttl=60)
    with pytest.raises(ValueError, match="already indexed"):
        await index.add("access", token_hash, "t" * 43, ttl=60)
    assert await index.lookup("access", token_hash) == "s" * 43


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
    index: TokenIndex, kind: str, token_hash: str
) -> None:
    """A token passed in clear by mistake, or a kind that could shape a key name, is refused."""
    with pytest.raises(ValueError, match=r"kind|hash"):
        await index.add(kind, token_hash, "s" * 43, ttl=60)
    with pytest.raises(ValueError, match=r"kind|hash"):
        await index.lookup(kind, token_hash)
    with pytest.raises(ValueError, match=r"kind|hash"):
        await index.drop(kind, token_hash)


async def test_token_entries_survive_a_key_rotation(index: TokenIndex) -> None:
    """Indexed under the old key; after rotation the previous-key hash still finds it."""
    old_hash = KEYS.hex("token", BEARER)
    await index.add("refresh", old_hash, "s" * 43, ttl=60)

    index._cipher = TokenCipher(NEW_KEY, OLD_KEY)  # a restart with rotated keys
    candidates = KeyedHasher(NEW_KEY, OLD_KEY).hex_candidates("token", BEARER)
    assert candidates[0] != old_hash
    found = [await index.lookup("refresh", h) for h in candidates]
    assert found == [None, "s" * 43]


async def test_a_token_entry_whose_key_is_gone_is_missing_and_deleted(
    index: TokenIndex,
) -> None:
    token_hash = KEYS.hex("token", BEARER)
    await index.add("access", token_hash, "s" * 43, ttl=60)

    index._cipher = TokenCipher(NEW_KEY)  # the sealing key retired too early
    assert await index.lookup("access", token_hash) is None
    index._cipher = TokenCipher(OLD_KEY)
    assert await index.lookup("access", token_hash) is None  # deleted, not just hidden


async def test_the_token_index_holds_neither_tokens_nor_session_ids_in_clear(
    redis_stores: IdentityStores, redis: Redis
) -> None:
    """A copy of Redis shows only keyed hashes of bearer tokens and sealed session ids."""
    record = new_record(redis_stores.sessions, kind="mobile")
    await redis_stores.sessions.create(record)
    await redis_stores.tokens.add("access", KEYS.hex("token", BEARER), record.id, 60)

    found = await dump(redis)
    [token_key] = [k for k in found if k.startswith(b"bff:sess:tok:access:")]
    everything = b"\n".join([*found, *found.values()])
    assert BEARER.encode() not in everything
    assert record.id.encode() not in found[token_key]
    assert 0 < await redis.pttl(token_key) <= 60_000


async def test_a_tampered_token_entry_is_missing_and_deleted(
    redis_stores: IdentityStores, redis: Redis
) -> None:
    """An entry moved to another token's key (or rewritten) does not open: never a session."""
    first, second = KEYS.hex("token", "first"), KEYS.hex("token", "second")
    await redis_stores.tokens.add("access", first, "s" * 43, 60)
    await redis.set(
        f"bff:sess:tok:access:{second}", await redis.get(f"bff:sess:tok:access:{first}")
    )

    assert await redis_stores.tokens.lookup("access", second) is None
    assert await redis.exists(f"bff:sess:tok:access:{second}") == 0
    assert await redis_stores.tokens.lookup("access", first) == "s" * 43


async def test_an_access_entry_read_once_is_remembered_and_a_refresh_entry_is_not(
    redis_stores: IdentityStores, redis: Redis
) -> None:
    """Remembered: a second lookup of an access token costs no round trip, even once another
    instance dropped the entry (the session record's check refuses such a token, see
    MobileTokenHandler); a refresh entry is read from Redis every time; a drop here forgets."""
    index = redis_stores.tokens
    access, refresh = KEYS.hex("token", BEARER), KEYS.hex("token", BEARER + "-refresh")
    await index.add("access", access, "s" * 43, ttl=60)
    await index.add("refresh", refresh, "s" * 43, ttl=60)
    assert await index.lookup("access", access) == "s" * 43
    assert await index.lookup("refresh", refresh) == "s" * 43
    await redis.delete(*[key async for key in redis.scan_iter("*:tok:*")])  # another instance
    gets_before = (await redis.info("commandstats"))["cmdstat_get"]["calls"]
    assert await index.lookup("access", access) == "s" * 43
    assert (await redis.info("commandstats"))["cmdstat_get"]["calls"] == gets_before
    assert await index.lookup("refresh", refresh) is None
    await index.drop("access", access)
    assert await index.lookup("access", access) is None
