"""Sessions in Redis (standalone, Sentinel or Cluster).

Key names hold no session id, no ``sub`` and no IdP ``sid``, only keyed hashes
(:mod:`shared.platform.keys`): SLOWLOG, MONITOR, key-space tools and alerts show nothing usable.
(``uh`` = hash of ``sub``, ``sd`` = hash of the session id, ``ih`` = hash of the IdP ``sid``;
default prefix ``bff:sess``)::

    key                          type    holds                              TTL
    bff:sess:{u:<uh>}:s:<sd>     HASH    the record, a JSON value per field  min(idle, absolute)
    bff:sess:{u:<uh>}:all        SET     <sd> of the user's sessions         max absolute
    bff:sess:id:<sd>             STRING  <uh>: where the session lives       absolute
    bff:sess:idp:<ih>            SET     <uh> of users with that IdP sid     max absolute

Cluster and key slots: a user's records and their index share the ``{u:<uh>}`` hash tag, so the
one multi-key operation that must be atomic, ``create`` (record + user index, one Lua script),
runs in one slot. Because of it, a record exists only while its id is in the user index, and
``end_all_for_user`` (read the index, delete what it lists) can never miss a session: one
created meanwhile simply counts as created after the logout. Everything else touches one key
per command; commands on keys of different slots go through a non-transactional pipeline, which
redis-py splits per node. The price is one extra GET per lookup by id (the pointer
``id:<sd>`` -> ``uh``), since the cookie carries only random bytes. Lookups try the hashes under
the current and the previous secret, so a key rotation loses nothing.

Known limit: a login whose IdP session is being logged out by back-channel at the very same
moment may keep its new session (there is no atomic step across the IdP-sid and user slots).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from shared.cache.local import Lru
from shared.identity.records import SessionAccess, SessionRecord, TokenSet
from shared.identity.session_codec import SessionCodec, text
from shared.identity.session_store import SessionStore
from shared.platform.clock import Clock
from shared.platform.keys import KeyedHasher
from shared.platform.redis import RedisClient, Rider

HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
KNOWN_OWNERS = 20_000
"""Session pointers remembered per instance (a few MB at most): the sessions seen recently."""

# Every script touches only the keys it is given, and they always share one hash slot.

# KEYS: record, user index. ARGV: member, record expiry ms, index expiry ms, field, value, ...
_CREATE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIREAT', KEYS[2], ARGV[3], 'NX')
redis.call('PEXPIREAT', KEYS[2], ARGV[3], 'GT')
return 1
"""

# KEYS: index. ARGV: member, expiry ms. The index lives as long as its longest-lived member.
_INDEX_ADD_LUA = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'NX')
redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
return 1
"""

# KEYS: record. ARGV: now, idle timeout (seconds). Never revives an expired record.
_TOUCH_LUA = """
local v = redis.call('HMGET', KEYS[1], 'idle_expires_at', 'absolute_expires_at')
local idle, absolute = tonumber(v[1]), tonumber(v[2])
local now = tonumber(ARGV[1])
if not idle or not absolute or now >= idle or now >= absolute then return 0 end
local new_idle = math.min(now + tonumber(ARGV[2]), absolute)
redis.call('HSET', KEYS[1], 'last_seen_at', string.format('%.17g', now),
           'idle_expires_at', string.format('%.17g', new_idle))
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', math.ceil(new_idle * 1000)))
return 1
"""

# KEYS: record. ARGV: now, idle timeout, min interval (seconds). The record's fields, after
# sliding its idle expiry when it was last slid at least min interval ago (as _TOUCH_LUA).
_GET_AND_SLIDE_LUA = """
local fields = redis.call('HGETALL', KEYS[1])
local at = {}
for i = 1, #fields, 2 do at[fields[i]] = i + 1 end
if not at['idle_expires_at'] or not at['absolute_expires_at'] or not at['last_seen_at'] then
  return fields
end
local idle = tonumber(fields[at['idle_expires_at']])
local absolute = tonumber(fields[at['absolute_expires_at']])
local last = tonumber(fields[at['last_seen_at']])
local now = tonumber(ARGV[1])
if not idle or not absolute or not last or now >= idle or now >= absolute
   or now - last < tonumber(ARGV[3]) then
  return fields
end
local new_idle = math.min(now + tonumber(ARGV[2]), absolute)
local seen, expires = string.format('%.17g', now), string.format('%.17g', new_idle)
redis.call('HSET', KEYS[1], 'last_seen_at', seen, 'idle_expires_at', expires)
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', math.ceil(new_idle * 1000)))
fields[at['last_seen_at']] = seen
fields[at['idle_expires_at']] = expires
return fields
"""

# KEYS: record. ARGV: field, value. Writes only into a record that still exists.
_SET_FIELD_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class RedisSessionStore(SessionStore):
    """Sessions in Redis; see the module docstring for the layout."""

    def __init__(
        self,
        redis: RedisClient,
        codec: SessionCodec,
        keys: KeyedHasher,
        clock: Clock,
        *,
        prefix: str = "bff:sess",
    ) -> None:
        super().__init__(codec, clock)
        if "{" in prefix or "}" in prefix:
            raise ValueError("the key prefix must not contain a hash tag")
        self._redis = redis
        self._keys = keys
        self._prefix = prefix
        self._create_script = redis.register_script(_CREATE_LUA)
        self._index_add_script = redis.register_script(_INDEX_ADD_LUA)
        self._touch_script = redis.register_script(_TOUCH_LUA)
        self._get_and_slide_script = redis.register_script(_GET_AND_SLIDE_LUA)
        self._owners: Lru[str] = Lru(KNOWN_OWNERS)
        self._set_field_script = redis.register_script(_SET_FIELD_LUA)

    # -- key names ---------------------------------------------------------------------------

    def _record_key(self, uh: str, sd: str) -> str:
        return f"{self._prefix}:{{u:{uh}}}:s:{sd}"

    def _user_index_key(self, uh: str) -> str:
        return f"{self._prefix}:{{u:{uh}}}:all"

    def _pointer_key(self, sd: str) -> str:
        return f"{self._prefix}:id:{sd}"

    def _idp_index_key(self, ih: str) -> str:
        return f"{self._prefix}:idp:{ih}"

    # -- sessions ----------------------------------------------------------------------------

    async def create(self, record: SessionRecord) -> None:
        self.codec.check_new(record, self.clock.time())
        sd = self._keys.hex("session-key", record.id)
        uh = self._keys.hex("key-name", record.sub)
        absolute_ms = _ms(record.absolute_expires_at)
        # Pointer first: SET NX refuses an id already in use before anything else is written.
        if not await self._redis.set(self._pointer_key(sd), uh, nx=True, pxat=absolute_ms):
            raise ValueError("the session id is already in use")
        if record.idp_sid is not None:
            ih = self._keys.hex("key-name", record.idp_sid)
            await self._index_add_script(keys=[self._idp_index_key(ih)], args=[uh, absolute_ms])
        pairs = [part for item in self.codec.encode_fields(record).items() for part in item]
        created = await self._create_script(
            keys=[self._record_key(uh, sd), self._user_index_key(uh)],
            args=[sd, _ms(record.expires_at), absolute_ms, *pairs],
        )
        if not created:
            raise ValueError("the session id is already in use")

    async def get(
        self, session_id: str, *, now: float | None = None, rider: Rider | None = None
    ) -> SessionRecord | None:
        now = self.clock.time() if now is None else now
        found = await self._locate(session_id)
        if found is None:
            return None
        uh, sd = found
        record_key = self._record_key(uh, sd)
        if rider is None:
            fields = await self._redis.hgetall(record_key)
        else:
            fields = await self._riding(lambda pipe: pipe.hgetall(record_key), rider, session_id)
        return await self._live(uh, sd, session_id, fields, now)

    async def get_and_slide(
        self,
        session_id: str,
        *,
        now: float,
        idle_timeout: float,
        min_interval: float,
        rider: Rider | None = None,
    ) -> SessionRecord | None:
        """Two round trips: the pointer (remembered once known), then one script reading (and
        maybe sliding) the record in its own slot, with ``rider``'s commands in the same
        pipeline."""
        found = await self._locate(session_id)
        if found is None:
            return None
        uh, sd = found
        keys = [self._record_key(uh, sd)]
        args = [repr(float(now)), repr(float(idle_timeout)), repr(float(min_interval))]
        script = self._get_and_slide_script
        if rider is None:
            flat = await script(keys=keys, args=args)
        else:
            try:
                flat = await self._riding(
                    lambda pipe: pipe.evalsha(script.sha, len(keys), *keys, *args),
                    rider,
                    session_id,
                )
            except NoScriptError:  # Redis restarted or flushed its scripts: loaded again here
                flat = await script(keys=keys, args=args)
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        return await self._live(uh, sd, session_id, fields, now)

    async def touch(self, session_id: str, now: float, idle_timeout: float) -> bool:
        return await self._run_on_record(
            session_id, self._touch_script, [repr(float(now)), repr(float(idle_timeout))]
        )

    async def update_tokens(self, session_id: str, tokens: TokenSet) -> bool:
        sealed = msgspec.json.encode(self.codec.seal_tokens(session_id, tokens))
        return await self._run_on_record(session_id, self._set_field_script, ["tokens", sealed])

    async def update_extra(self, session_id: str, extra: Mapping[str, Any]) -> bool:
        encoded = msgspec.json.encode(dict(extra))
        return await self._run_on_record(session_id, self._set_field_script, ["extra", encoded])

    async def update_access(self, session_id: str, access: SessionAccess) -> bool:
        encoded = msgspec.json.encode(access)
        return await self._run_on_record(session_id, self._set_field_script, ["access", encoded])

    async def delete(self, session_id: str) -> bool:
        found = await self._locate(session_id)
        if found is None:
            return False
        uh, sd = found
        return await self._remove(uh, [sd]) > 0

    async def list_for_user(self, sub: str, *, now: float | None = None) -> list[SessionRecord]:
        now = self.clock.time() if now is None else now
        records: list[SessionRecord] = []
        for uh in self._keys.hex_candidates("key-name", sub):
            members = await self._members(self._user_index_key(uh))
            async with self._redis.pipeline(transaction=False) as pipe:
                for sd in members:
                    pipe.hgetall(self._record_key(uh, sd))
                results = await pipe.execute()
            dead: list[str] = []
            for sd, fields in zip(members, results, strict=True):
                record = self.codec.decode(fields) if fields else None
                if (
                    record is None
                    or sd not in self._keys.hex_candidates("session-key", record.id)
                    or record.is_expired(now)
                ):
                    dead.append(sd)
                elif record.sub == sub:  # never anything else, unless two hashes collide
                    records.append(record)
            await self._remove(uh, dead)
        return sorted(records, key=lambda r: r.created_at)

    async def end_all_for_user(self, sub: str) -> int:
        ended = 0
        for uh in self._keys.hex_candidates("key-name", sub):
            ended += await self._remove(uh, await self._members(self._user_index_key(uh)))
        return ended

    async def end_by_idp_sid(self, idp_sid: str) -> int:
        ended = 0
        for ih in self._keys.hex_candidates("key-name", idp_sid):
            for uh in await self._members(self._idp_index_key(ih)):
                members = await self._members(self._user_index_key(uh))
                async with self._redis.pipeline(transaction=False) as pipe:
                    for sd in members:
                        pipe.hget(self._record_key(uh, sd), "idp_sid")
                    sids = await pipe.execute()
                matching = [
                    sd
                    for sd, raw in zip(members, sids, strict=True)
                    if raw is not None and _json_equals(raw, idp_sid)
                ]
                ended += await self._remove(uh, matching)
        # The IdP-sid index is left to expire: it names users, not sessions, and removing a user
        # from it could race with that user's next login under the same IdP session.
        return ended

    # -- helpers -----------------------------------------------------------------------------

    async def _live(
        self, uh: str, sd: str, session_id: str, fields: dict[Any, Any], now: float
    ) -> SessionRecord | None:
        """The record read from ``fields`` if it is this session and live; anything else is
        removed and reads as missing."""
        record = self.codec.decode(fields) if fields else None
        if record is None or record.id != session_id or record.is_expired(now):
            await self._remove(uh, [sd])
            return None
        return record

    async def _locate(self, session_id: str) -> tuple[str, str] | None:
        """``(uh, sd)`` of a session: the user hash whose slot holds it, from its pointer key,
        trying the session-id hash under the current secret, then the previous one.

        The pointer never changes while the session lives, so a found one is remembered here:
        the record itself is still read from Redis on every request, so a session ended on any
        instance is refused at once all the same (its record is gone, whatever the pointer)."""
        candidates = self._keys.hex_candidates("session-key", session_id)
        for sd in candidates:
            known = self._owners.get(sd)
            if known is not None:
                return known, sd
        for sd in candidates:
            raw = await self._redis.get(self._pointer_key(sd))
            if raw is None:
                continue
            uh = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
            if not HEX_DIGEST.fullmatch(uh):
                await self._redis.delete(self._pointer_key(sd))
                return None
            self._owners.put(sd, uh)
            return uh, sd
        return None

    async def _riding(self, queue: Callable[[Any], Any], rider: Rider, session_id: str) -> Any:
        """One pipeline: the command ``queue`` adds, then ``rider``'s; the rider gets its
        answers and the first answer is returned (raised, if it is an error)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            queue(pipe)
            rider.board(pipe, session_id)
            answers = await pipe.execute(raise_on_error=False)
        rider.land(answers[1:])
        if isinstance(answers[0], Exception):
            raise answers[0]
        return answers[0]

    async def _members(self, index_key: str) -> list[str]:
        members = [text(m) for m in await self._redis.smembers(index_key)]
        return [m for m in members if HEX_DIGEST.fullmatch(m)]

    async def _run_on_record(
        self, session_id: str, script: AsyncScript, args: list[str | bytes]
    ) -> bool:
        found = await self._locate(session_id)
        if found is None:
            return False
        return bool(await script(keys=[self._record_key(*found)], args=args))

    async def _remove(self, uh: str, sds: list[str]) -> int:
        """Delete records, their index entries and pointers; returns how many records existed."""
        if not sds:
            return 0
        for sd in sds:
            self._owners.pop(sd)
        async with self._redis.pipeline(transaction=False) as pipe:
            for sd in sds:
                pipe.delete(self._record_key(uh, sd))
            pipe.srem(self._user_index_key(uh), *sds)
            for sd in sds:
                pipe.delete(self._pointer_key(sd))
            results = await pipe.execute()
        return sum(int(n) for n in results[: len(sds)])


def _json_equals(raw: bytes | str, expected: str) -> bool:
    try:
        return bool(msgspec.json.decode(raw) == expected)
    except msgspec.DecodeError:
        return False


def _ms(epoch_seconds: float) -> int:
    return math.ceil(epoch_seconds * 1000)
