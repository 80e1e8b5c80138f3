"""Server-side sessions: the records, one small store interface, and a Redis and a memory store.

This is the session half of the BFF; the endpoints (``bff_web.auth``, ``bff_mobile.auth``) call
it, and refreshing tokens is a separate token service. What it defends against:

* **A copy of the store must not log anyone in.** The IdP tokens are sealed as one AEAD blob
  (:mod:`shared.platform.crypto`) whose associated data is the session id, so they cannot be moved
  into another session either. Key names hold no session ids (SHA-256 of the id), no ``sub`` and
  no IdP ``sid`` (keyed hashes): SLOWLOG, MONITOR, key-space tools and alerts show nothing usable.
  The record *value* holds its id only sealed (``list_for_user`` opens it, so that a user can end
  a session on another device), so a copy of Redis cannot be turned into a session cookie.
* **Bad data is never a 500.** A record that does not decode, does not open (tampered, or its
  key was retired) or is past its idle or absolute timeout is deleted and reported missing.
* **Logout wins.** Field updates (``touch``, ``update_tokens``, ``update_extra``) only write to
  a record that still exists, so a refresh finishing after a logout cannot bring the session
  back, and they write only their own fields, so a ``touch`` cannot put back tokens that a
  parallel refresh has just replaced.
* **A copy of the store must not yield a bearer token either.** The mobile gateway's opaque
  access and refresh tokens are indexed by their keyed hash only (``cipher.hash_token``), and
  the session id an index entry points at is sealed, bound to the entry's kind and hash.
* **Indexes do not grow with dead ids.** Records expire by TTL; listing prunes index members
  whose record is gone, and every index expires with the last absolute expiry of its members.

Redis layout (``uh`` = keyed hash of ``sub``, ``sd`` = SHA-256 of the session id, ``ih`` = keyed
hash of the IdP ``sid``; default prefix ``bff:sess``)::

    key                          type    holds                              TTL
    bff:sess:{u:<uh>}:s:<sd>     HASH    the record, a JSON value per field  min(idle, absolute)
    bff:sess:{u:<uh>}:all        SET     <sd> of the user's sessions         max absolute
    bff:sess:id:<sd>             STRING  <uh>: where the session lives       absolute
    bff:sess:idp:<ih>            SET     <uh> of users with that IdP sid     max absolute
    bff:sess:once:<sha256(key)>  STRING  sealed one-time value               as given
    bff:sess:seen:<sha256(key)>  STRING  replay marker                       as given
    bff:sess:tok:<kind>:<th>     STRING  sealed session id of a bearer token as given

(``th`` = the token's keyed hash, as the caller gives it; ``kind`` = ``access``, ``refresh``…)

Cluster and key slots: a user's records and their index share the ``{u:<uh>}`` hash tag, so the
one multi-key operation that must be atomic, ``create`` (record + user index, one Lua script),
runs in one slot. Because of it, a record exists only while its id is in the user index, and
``end_all_for_user`` (read the index, delete what it lists) can never miss a session: one
created meanwhile simply counts as created after the logout. Everything else touches one key
per command (the token index too: SET NX, GET, DEL); commands on keys of different slots go
through a non-transactional pipeline, which redis-py splits per node. The price is one extra
GET per lookup by id (the pointer ``id:<sd>`` -> ``uh``), since the cookie carries only random
bytes. Lookups by ``sub``, IdP ``sid`` or token hash try the hashes under the current and the
previous key, so rotation loses nothing.

The session id hash is unkeyed on purpose: the id has 256 random bits, so its hash cannot be
inverted, and it stays the same when the secret key rotates.

Known limit: a login whose IdP session is being logged out by back-channel at the very same
moment may keep its new session (there is no atomic step across the IdP-sid and user slots).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog
from redis.commands.core import AsyncScript

from shared.identity.records import (
    MIN_SESSION_ID_LENGTH,
    EncryptedTokens,
    SessionKind,
    SessionRecord,
    TokenSet,
)
from shared.platform.crypto import DecryptionError, TokenCipher, new_opaque_id
from shared.platform.redis import RedisClient

_TOKENS_AD = b"bff session tokens\x00"
_SESSION_ID_AD = b"bff session id\x00"
_ONE_TIME_AD = b"bff one-time value\x00"
_TOKEN_INDEX_AD = b"bff token index\x00"
_TOKEN_KIND = re.compile(r"[a-z][a-z0-9-]{0,31}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")

_logger = structlog.get_logger("bff.sessions")


_RECORD_FIELDS: tuple[str, ...] = SessionRecord.__struct_fields__


class SessionStore(ABC):
    """Where sessions live. Endpoints use only this interface, never a backend directly."""

    def __init__(self, cipher: TokenCipher) -> None:
        self.cipher = cipher

    # -- tokens ------------------------------------------------------------------------------

    def seal_tokens(self, session_id: str, tokens: TokenSet) -> EncryptedTokens:
        return EncryptedTokens(
            self.cipher.encrypt(msgspec.msgpack.encode(tokens), _TOKENS_AD + session_id.encode())
        )

    def open_tokens(self, record: SessionRecord) -> TokenSet:
        """The record's tokens in clear; raises ``DecryptionError`` if they do not open.

        Records from :meth:`get` have been checked, so this fails only if the keys changed since.
        """
        plaintext = self.cipher.decrypt(record.tokens.ciphertext, _TOKENS_AD + record.id.encode())
        try:
            return msgspec.msgpack.decode(plaintext, type=TokenSet)
        except msgspec.DecodeError as exc:
            raise DecryptionError("the sealed tokens are not a token set") from exc

    def new_record(
        self,
        *,
        kind: SessionKind,
        sub: str,
        tokens: TokenSet,
        claims: Mapping[str, Any],
        idle_timeout: float,
        absolute_timeout: float,
        idp_sid: str | None = None,
        user_agent: str | None = None,
        extra: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> SessionRecord:
        """A new record with a fresh random id and sealed tokens, ready for :meth:`create`."""
        now = time.time() if now is None else now
        session_id = new_opaque_id()
        absolute = now + absolute_timeout
        return SessionRecord(
            id=session_id,
            kind=kind,
            sub=sub,
            idp_sid=idp_sid,
            claims=dict(claims),
            created_at=now,
            last_seen_at=now,
            idle_expires_at=min(now + idle_timeout, absolute),
            absolute_expires_at=absolute,
            user_agent=user_agent,
            tokens=self.seal_tokens(session_id, tokens),
            extra=dict(extra or {}),
        )

    # -- sessions ----------------------------------------------------------------------------

    @abstractmethod
    async def create(self, record: SessionRecord) -> None:
        """Store a new session; ``ValueError`` if its id is weak or taken or it is expired."""

    @abstractmethod
    async def get(self, session_id: str, *, now: float | None = None) -> SessionRecord | None:
        """The live session, or None (missing, expired, undecodable, tokens do not open).

        Anything but a live session is deleted. Never raises for bad stored data.
        """

    @abstractmethod
    async def touch(self, session_id: str, now: float, idle_timeout: float) -> bool:
        """Slide the idle expiry to ``now + idle_timeout``, never past the absolute expiry.

        False if the session is missing or already expired (it is not revived).
        """

    @abstractmethod
    async def update_tokens(self, session_id: str, tokens: TokenSet) -> bool:
        """Replace the sealed tokens (after a refresh); False if the session is gone."""

    @abstractmethod
    async def update_extra(self, session_id: str, extra: Mapping[str, Any]) -> bool:
        """Replace ``extra``; False if the session is gone."""

    @abstractmethod
    async def delete(self, session_id: str) -> bool:
        """End one session; False if there was none."""

    @abstractmethod
    async def list_for_user(self, sub: str, *, now: float | None = None) -> list[SessionRecord]:
        """The user's live sessions on every device and gateway, oldest first."""

    @abstractmethod
    async def end_all_for_user(self, sub: str) -> int:
        """End every session of the user; returns how many were ended."""

    @abstractmethod
    async def end_by_idp_sid(self, idp_sid: str) -> int:
        """End the sessions of one IdP session (back-channel logout); returns how many."""

    # -- one-time values and replay markers --------------------------------------------------

    @abstractmethod
    async def put_one_time(self, key: str, value: bytes, ttl: float) -> None:
        """Keep ``value`` (sealed) for at most ``ttl`` seconds, for one :meth:`take_one_time`.

        ``key`` must be unguessable if it is the secret (a one-time code): whoever knows the key
        can take the value.
        """

    @abstractmethod
    async def take_one_time(self, key: str) -> bytes | None:
        """Return the value and delete it atomically: a second take gets None."""

    @abstractmethod
    async def remember_once(self, key: str, ttl: float) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds, False on a replay."""

    # -- bearer-token index ------------------------------------------------------------------

    @abstractmethod
    async def index_token(self, kind: str, token_hash: str, session_id: str, ttl: float) -> None:
        """Point a bearer token at its session for ``ttl`` seconds.

        ``token_hash`` is the token's keyed hash (``cipher.hash_token``), never the token: a copy
        of the store cannot be replayed as a bearer. ``kind`` (``access``, ``refresh``…) keeps
        one kind of token from being accepted as another. ``ValueError`` if the entry exists.
        """

    @abstractmethod
    async def lookup_token(self, kind: str, token_hash: str) -> str | None:
        """The session id a live index entry points at, or None (missing, expired, bad data).

        Callers try every hash of ``cipher.hash_token_candidates`` so that tokens indexed
        before a key rotation are still found.
        """

    @abstractmethod
    async def drop_token(self, kind: str, token_hash: str) -> bool:
        """Remove an index entry; True for exactly one caller if several race (atomic delete)."""

    # -- shared helpers ----------------------------------------------------------------------

    def _check_new(self, record: SessionRecord) -> None:
        if len(record.id) < MIN_SESSION_ID_LENGTH:
            raise ValueError("a session id needs at least 256 random bits (use new_record)")
        if record.is_expired(time.time()):
            raise ValueError("the session record is already expired")
        try:
            self.open_tokens(record)
        except DecryptionError as exc:
            raise ValueError("the tokens are not sealed for this session id") from exc

    def _encode_fields(self, record: SessionRecord) -> dict[str, bytes]:
        """The stored form: a JSON value per field, the session id sealed.

        The id is the cookie's (or, for mobile, the token index's) secret: a copy of Redis must
        not hand out sessions, so it is stored only sealed, like the tokens."""
        fields = {name: msgspec.json.encode(getattr(record, name)) for name in _RECORD_FIELDS}
        sealed_id = self.cipher.encrypt(record.id.encode(), _SESSION_ID_AD + record.sub.encode())
        fields["id"] = msgspec.json.encode(sealed_id)
        return fields

    def _decode(self, fields: Mapping[Any, Any]) -> SessionRecord | None:
        """Record from stored fields, or None when anything about it is wrong."""
        try:
            values = {_text(name): msgspec.json.decode(value) for name, value in fields.items()}
            values["id"] = self.cipher.decrypt(
                str(values.get("id", "")), _SESSION_ID_AD + str(values.get("sub", "")).encode()
            ).decode()
            record = msgspec.convert(values, SessionRecord)
            self.open_tokens(record)
        except (msgspec.DecodeError, msgspec.ValidationError, DecryptionError, UnicodeError) as exc:
            # Tampering, or a secret key retired too early: worth a warning, never an error page.
            _logger.warning("session_record_discarded", reason=type(exc).__name__)
            return None
        return record

    def _seal_token_ref(self, kind: str, token_hash: str, session_id: str, ttl: float) -> bytes:
        _check_token_ref(kind, token_hash)
        if ttl <= 0:
            raise ValueError("a token index entry needs a positive TTL")
        return self.cipher.encrypt(session_id.encode(), _token_ref_ad(kind, token_hash)).encode()

    def _open_token_ref(self, kind: str, token_hash: str, sealed: bytes | str) -> str | None:
        try:
            return self.cipher.decrypt(_text(sealed), _token_ref_ad(kind, token_hash)).decode()
        except (DecryptionError, UnicodeError):
            _logger.warning("token_index_entry_discarded")
            return None

    def _seal_one_time(self, key: str, value: bytes) -> bytes:
        return self.cipher.encrypt(value, _ONE_TIME_AD + key.encode()).encode()

    def _open_one_time(self, key: str, sealed: bytes | str) -> bytes | None:
        try:
            return self.cipher.decrypt(_text(sealed), _ONE_TIME_AD + key.encode())
        except (DecryptionError, UnicodeError):
            return None


def _check_token_ref(kind: str, token_hash: str) -> None:
    """Only well-formed names reach a key: a raw token passed by mistake is refused."""
    if not _TOKEN_KIND.fullmatch(kind):
        raise ValueError("a token kind is a short lower-case name such as 'access'")
    if not _HEX_DIGEST.fullmatch(token_hash):
        raise ValueError("index tokens by their keyed hash (cipher.hash_token), never in clear")


def _token_ref_ad(kind: str, token_hash: str) -> bytes:
    return _TOKEN_INDEX_AD + kind.encode() + b"\x00" + token_hash.encode()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _ms(epoch_seconds: float) -> int:
    return math.ceil(epoch_seconds * 1000)


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

# KEYS: record. ARGV: field, value. Writes only into a record that still exists.
_SET_FIELD_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class RedisSessionStore(SessionStore):
    """Sessions in Redis (standalone, Sentinel or Cluster); see the module docstring."""

    def __init__(
        self, redis: RedisClient, cipher: TokenCipher, *, prefix: str = "bff:sess"
    ) -> None:
        super().__init__(cipher)
        if "{" in prefix or "}" in prefix:
            raise ValueError("the key prefix must not contain a hash tag")
        self._redis = redis
        self._prefix = prefix
        self._create_script = redis.register_script(_CREATE_LUA)
        self._index_add_script = redis.register_script(_INDEX_ADD_LUA)
        self._touch_script = redis.register_script(_TOUCH_LUA)
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

    def _token_key(self, kind: str, token_hash: str) -> str:
        return f"{self._prefix}:tok:{kind}:{token_hash}"

    # -- sessions ----------------------------------------------------------------------------

    async def create(self, record: SessionRecord) -> None:
        self._check_new(record)
        sd = _digest(record.id)
        uh = self.cipher.hash_token(record.sub, "key-name")
        absolute_ms = _ms(record.absolute_expires_at)
        # Pointer first: SET NX refuses an id already in use before anything else is written.
        if not await self._redis.set(self._pointer_key(sd), uh, nx=True, pxat=absolute_ms):
            raise ValueError("the session id is already in use")
        if record.idp_sid is not None:
            ih = self.cipher.hash_token(record.idp_sid, "key-name")
            await self._index_add_script(keys=[self._idp_index_key(ih)], args=[uh, absolute_ms])
        pairs = [part for item in self._encode_fields(record).items() for part in item]
        created = await self._create_script(
            keys=[self._record_key(uh, sd), self._user_index_key(uh)],
            args=[sd, _ms(record.expires_at), absolute_ms, *pairs],
        )
        if not created:
            raise ValueError("the session id is already in use")

    async def get(self, session_id: str, *, now: float | None = None) -> SessionRecord | None:
        now = time.time() if now is None else now
        sd = _digest(session_id)
        uh = await self._owner(sd)
        if uh is None:
            return None
        fields = await self._redis.hgetall(self._record_key(uh, sd))
        record = self._decode(fields) if fields else None
        if record is None or record.id != session_id or record.is_expired(now):
            await self._remove(uh, [sd])
            return None
        return record

    async def touch(self, session_id: str, now: float, idle_timeout: float) -> bool:
        return await self._run_on_record(
            session_id, self._touch_script, [repr(float(now)), repr(float(idle_timeout))]
        )

    async def update_tokens(self, session_id: str, tokens: TokenSet) -> bool:
        sealed = msgspec.json.encode(self.seal_tokens(session_id, tokens))
        return await self._run_on_record(session_id, self._set_field_script, ["tokens", sealed])

    async def update_extra(self, session_id: str, extra: Mapping[str, Any]) -> bool:
        encoded = msgspec.json.encode(dict(extra))
        return await self._run_on_record(session_id, self._set_field_script, ["extra", encoded])

    async def delete(self, session_id: str) -> bool:
        sd = _digest(session_id)
        uh = await self._owner(sd)
        return uh is not None and await self._remove(uh, [sd]) > 0

    async def list_for_user(self, sub: str, *, now: float | None = None) -> list[SessionRecord]:
        now = time.time() if now is None else now
        records: list[SessionRecord] = []
        for uh in self.cipher.hash_token_candidates(sub, "key-name"):
            members = await self._members(self._user_index_key(uh))
            async with self._redis.pipeline(transaction=False) as pipe:
                for sd in members:
                    pipe.hgetall(self._record_key(uh, sd))
                results = await pipe.execute()
            dead: list[str] = []
            for sd, fields in zip(members, results, strict=True):
                record = self._decode(fields) if fields else None
                if record is None or _digest(record.id) != sd or record.is_expired(now):
                    dead.append(sd)
                elif record.sub == sub:  # never anything else, unless two hashes collide
                    records.append(record)
            await self._remove(uh, dead)
        return sorted(records, key=lambda r: r.created_at)

    async def end_all_for_user(self, sub: str) -> int:
        ended = 0
        for uh in self.cipher.hash_token_candidates(sub, "key-name"):
            ended += await self._remove(uh, await self._members(self._user_index_key(uh)))
        return ended

    async def end_by_idp_sid(self, idp_sid: str) -> int:
        ended = 0
        for ih in self.cipher.hash_token_candidates(idp_sid, "key-name"):
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

    # -- one-time values ---------------------------------------------------------------------

    async def put_one_time(self, key: str, value: bytes, ttl: float) -> None:
        await self._redis.set(
            f"{self._prefix}:once:{_digest(key)}",
            self._seal_one_time(key, value),
            px=max(1, _ms(ttl)),
        )

    async def take_one_time(self, key: str) -> bytes | None:
        sealed = await self._redis.getdel(f"{self._prefix}:once:{_digest(key)}")
        return None if sealed is None else self._open_one_time(key, sealed)

    async def remember_once(self, key: str, ttl: float) -> bool:
        marker = f"{self._prefix}:seen:{_digest(key)}"
        return bool(await self._redis.set(marker, b"1", nx=True, px=max(1, _ms(ttl))))

    # -- bearer-token index ------------------------------------------------------------------

    async def index_token(self, kind: str, token_hash: str, session_id: str, ttl: float) -> None:
        sealed = self._seal_token_ref(kind, token_hash, session_id, ttl)
        key = self._token_key(kind, token_hash)
        if not await self._redis.set(key, sealed, nx=True, px=max(1, _ms(ttl))):
            raise ValueError("this token is already indexed")

    async def lookup_token(self, kind: str, token_hash: str) -> str | None:
        _check_token_ref(kind, token_hash)
        key = self._token_key(kind, token_hash)
        sealed = await self._redis.get(key)
        if sealed is None:
            return None
        session_id = self._open_token_ref(kind, token_hash, sealed)
        if session_id is None:
            await self._redis.delete(key)
        return session_id

    async def drop_token(self, kind: str, token_hash: str) -> bool:
        _check_token_ref(kind, token_hash)
        return bool(await self._redis.delete(self._token_key(kind, token_hash)))

    # -- helpers -----------------------------------------------------------------------------

    async def _owner(self, sd: str) -> str | None:
        """The user hash whose slot holds session ``sd``, from the pointer key."""
        raw = await self._redis.get(self._pointer_key(sd))
        if raw is None:
            return None
        uh = raw if isinstance(raw, str) else raw.decode("ascii", "replace")
        if not _HEX_DIGEST.fullmatch(uh):
            await self._redis.delete(self._pointer_key(sd))
            return None
        return uh

    async def _members(self, index_key: str) -> list[str]:
        members = [_text(m) for m in await self._redis.smembers(index_key)]
        return [m for m in members if _HEX_DIGEST.fullmatch(m)]

    async def _run_on_record(
        self, session_id: str, script: AsyncScript, args: list[str | bytes]
    ) -> bool:
        sd = _digest(session_id)
        uh = await self._owner(sd)
        if uh is None:
            return False
        return bool(await script(keys=[self._record_key(uh, sd)], args=args))

    async def _remove(self, uh: str, sds: list[str]) -> int:
        """Delete records, their index entries and pointers; returns how many records existed."""
        if not sds:
            return 0
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


@dataclass(slots=True)
class _Entry:
    fields: dict[str, bytes]
    sub: str
    idp_sid: str | None
    expires_at: float  # what Redis would use as the record's TTL


class MemorySessionStore(SessionStore):
    """Sessions in this process, for the one-instance default without Redis.

    Same behaviour as :class:`RedisSessionStore`, including sealed tokens and encoded fields,
    so the same tests hold for both. No method awaits while it reads or changes the maps, so
    the event loop already runs each one atomically and no lock is needed. Expired entries are
    swept at most once a minute, on writes.
    """

    _SWEEP_INTERVAL_S = 60.0

    def __init__(self, cipher: TokenCipher) -> None:
        super().__init__(cipher)
        self._sessions: dict[str, _Entry] = {}
        self._by_user: dict[str, set[str]] = {}
        self._by_idp_sid: dict[str, set[str]] = {}
        self._one_time: dict[str, tuple[bytes, float]] = {}  # key -> (sealed, monotonic deadline)
        self._seen: dict[str, float] = {}  # key -> monotonic deadline
        self._tokens: dict[str, tuple[bytes, float]] = {}  # kind:hash -> (sealed, deadline)
        self._next_sweep = time.monotonic() + self._SWEEP_INTERVAL_S

    async def create(self, record: SessionRecord) -> None:
        self._check_new(record)
        self._maybe_sweep()
        if record.id in self._sessions:
            raise ValueError("the session id is already in use")
        self._sessions[record.id] = _Entry(
            self._encode_fields(record), record.sub, record.idp_sid, record.expires_at
        )
        self._by_user.setdefault(record.sub, set()).add(record.id)
        if record.idp_sid is not None:
            self._by_idp_sid.setdefault(record.idp_sid, set()).add(record.id)

    async def get(self, session_id: str, *, now: float | None = None) -> SessionRecord | None:
        return self._live(session_id, time.time() if now is None else now)

    async def touch(self, session_id: str, now: float, idle_timeout: float) -> bool:
        entry = self._sessions.get(session_id)
        if entry is None:
            return False
        try:
            idle = msgspec.json.decode(entry.fields["idle_expires_at"], type=float)
            absolute = msgspec.json.decode(entry.fields["absolute_expires_at"], type=float)
        except (KeyError, msgspec.DecodeError, msgspec.ValidationError):
            return False
        if now >= idle or now >= absolute:
            return False
        new_idle = min(now + idle_timeout, absolute)
        entry.fields["last_seen_at"] = msgspec.json.encode(float(now))
        entry.fields["idle_expires_at"] = msgspec.json.encode(new_idle)
        entry.expires_at = new_idle
        return True

    async def update_tokens(self, session_id: str, tokens: TokenSet) -> bool:
        encoded = msgspec.json.encode(self.seal_tokens(session_id, tokens))
        return self._set_field(session_id, "tokens", encoded)

    async def update_extra(self, session_id: str, extra: Mapping[str, Any]) -> bool:
        return self._set_field(session_id, "extra", msgspec.json.encode(dict(extra)))

    async def delete(self, session_id: str) -> bool:
        return self._remove(session_id)

    async def list_for_user(self, sub: str, *, now: float | None = None) -> list[SessionRecord]:
        now = time.time() if now is None else now
        found = (self._live(sid, now) for sid in list(self._by_user.get(sub, ())))
        return sorted((r for r in found if r is not None), key=lambda r: r.created_at)

    async def end_all_for_user(self, sub: str) -> int:
        return sum(self._remove(sid) for sid in list(self._by_user.get(sub, ())))

    async def end_by_idp_sid(self, idp_sid: str) -> int:
        return sum(self._remove(sid) for sid in list(self._by_idp_sid.get(idp_sid, ())))

    async def put_one_time(self, key: str, value: bytes, ttl: float) -> None:
        self._maybe_sweep()
        self._one_time[key] = (self._seal_one_time(key, value), time.monotonic() + ttl)

    async def take_one_time(self, key: str) -> bytes | None:
        item = self._one_time.pop(key, None)
        if item is None or time.monotonic() >= item[1]:
            return None
        return self._open_one_time(key, item[0])

    async def remember_once(self, key: str, ttl: float) -> bool:
        self._maybe_sweep()
        now = time.monotonic()
        if self._seen.get(key, 0.0) > now:
            return False
        self._seen[key] = now + ttl
        return True

    async def index_token(self, kind: str, token_hash: str, session_id: str, ttl: float) -> None:
        sealed = self._seal_token_ref(kind, token_hash, session_id, ttl)
        self._maybe_sweep()
        key = f"{kind}:{token_hash}"
        existing = self._tokens.get(key)
        if existing is not None and existing[1] > time.monotonic():
            raise ValueError("this token is already indexed")
        self._tokens[key] = (sealed, time.monotonic() + ttl)

    async def lookup_token(self, kind: str, token_hash: str) -> str | None:
        _check_token_ref(kind, token_hash)
        key = f"{kind}:{token_hash}"
        item = self._tokens.get(key)
        if item is None:
            return None
        session_id = (
            self._open_token_ref(kind, token_hash, item[0]) if item[1] > time.monotonic() else None
        )
        if session_id is None:
            del self._tokens[key]
        return session_id

    async def drop_token(self, kind: str, token_hash: str) -> bool:
        _check_token_ref(kind, token_hash)
        item = self._tokens.pop(f"{kind}:{token_hash}", None)
        return item is not None and item[1] > time.monotonic()

    def _live(self, session_id: str, now: float) -> SessionRecord | None:
        entry = self._sessions.get(session_id)
        if entry is None:
            return None
        record = self._decode(entry.fields)
        if record is None or record.id != session_id or record.is_expired(now):
            self._remove(session_id)
            return None
        return record

    def _set_field(self, session_id: str, name: str, value: bytes) -> bool:
        entry = self._sessions.get(session_id)
        if entry is None or entry.expires_at <= time.time():
            return False
        entry.fields[name] = value
        return True

    def _remove(self, session_id: str) -> bool:
        """Drop a session; True if it was still live (Redis would not count an expired one)."""
        entry = self._sessions.pop(session_id, None)
        if entry is None:
            return False
        _discard(self._by_user, entry.sub, session_id)
        if entry.idp_sid is not None:
            _discard(self._by_idp_sid, entry.idp_sid, session_id)
        return entry.expires_at > time.time()

    def _maybe_sweep(self) -> None:
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + self._SWEEP_INTERVAL_S
        wall, mono = time.time(), time.monotonic()
        for sid in [sid for sid, e in self._sessions.items() if e.expires_at <= wall]:
            self._remove(sid)
        self._one_time = {k: v for k, v in self._one_time.items() if v[1] > mono}
        self._seen = {k: t for k, t in self._seen.items() if t > mono}
        self._tokens = {k: v for k, v in self._tokens.items() if v[1] > mono}


def _discard(index: dict[str, set[str]], key: str, member: str) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(member)
        if not members:
            del index[key]
