"""Sessions in this process, for the one-instance default without Redis.

Same behaviour as the Redis store, including sealed tokens and encoded fields, so the same tests
hold for both. No method awaits while it reads or changes the maps, so the event loop already
runs each one atomically and no lock is needed. Expired entries are swept at most once a minute,
on writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from shared.identity.records import SessionAccess, SessionRecord, TokenSet
from shared.identity.session_codec import SessionCodec
from shared.identity.session_store import SessionStore
from shared.platform.clock import Clock
from shared.platform.redis import Rider

SWEEP_INTERVAL_S = 60.0


@dataclass(slots=True)
class _Entry:
    fields: dict[str, bytes]
    sub: str
    idp_sid: str | None
    expires_at: float  # what Redis would use as the record's TTL


class MemorySessionStore(SessionStore):
    """Sessions in a dict, indexed by user and by IdP session."""

    def __init__(self, codec: SessionCodec, clock: Clock) -> None:
        super().__init__(codec, clock)
        self._sessions: dict[str, _Entry] = {}
        self._by_user: dict[str, set[str]] = {}
        self._by_idp_sid: dict[str, set[str]] = {}
        self._next_sweep = clock.time() + SWEEP_INTERVAL_S

    async def create(self, record: SessionRecord) -> None:
        self.codec.check_new(record, self.clock.time())
        self._maybe_sweep()
        if record.id in self._sessions:
            raise ValueError("the session id is already in use")
        self._sessions[record.id] = _Entry(
            self.codec.encode_fields(record), record.sub, record.idp_sid, record.expires_at
        )
        self._by_user.setdefault(record.sub, set()).add(record.id)
        if record.idp_sid is not None:
            self._by_idp_sid.setdefault(record.idp_sid, set()).add(record.id)

    async def get(
        self, session_id: str, *, now: float | None = None, rider: Rider | None = None
    ) -> SessionRecord | None:
        del rider  # no round trip to ride along: its owner sends its commands itself
        return self._live(session_id, self.clock.time() if now is None else now)

    async def get_and_slide(
        self,
        session_id: str,
        *,
        now: float,
        idle_timeout: float,
        min_interval: float,
        rider: Rider | None = None,
    ) -> SessionRecord | None:
        del rider  # as in get
        record = self._live(session_id, now)
        if record is None or now - record.last_seen_at < min_interval:
            return record
        await self.touch(session_id, now, idle_timeout)
        return self._live(session_id, now)

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
        encoded = msgspec.json.encode(self.codec.seal_tokens(session_id, tokens))
        return self._set_field(session_id, "tokens", encoded)

    async def update_extra(self, session_id: str, extra: Mapping[str, Any]) -> bool:
        return self._set_field(session_id, "extra", msgspec.json.encode(dict(extra)))

    async def update_access(self, session_id: str, access: SessionAccess) -> bool:
        return self._set_field(session_id, "access", msgspec.json.encode(access))

    async def delete(self, session_id: str) -> bool:
        return self._remove(session_id)

    async def list_for_user(self, sub: str, *, now: float | None = None) -> list[SessionRecord]:
        now = self.clock.time() if now is None else now
        found = (self._live(sid, now) for sid in list(self._by_user.get(sub, ())))
        return sorted((r for r in found if r is not None), key=lambda r: r.created_at)

    async def end_all_for_user(self, sub: str) -> int:
        return sum(self._remove(sid) for sid in list(self._by_user.get(sub, ())))

    async def end_by_idp_sid(self, idp_sid: str) -> int:
        return sum(self._remove(sid) for sid in list(self._by_idp_sid.get(idp_sid, ())))

    def _live(self, session_id: str, now: float) -> SessionRecord | None:
        entry = self._sessions.get(session_id)
        if entry is None:
            return None
        record = self.codec.decode(entry.fields)
        if record is None or record.id != session_id or record.is_expired(now):
            self._remove(session_id)
            return None
        return record

    def _set_field(self, session_id: str, name: str, value: bytes) -> bool:
        entry = self._sessions.get(session_id)
        if entry is None or entry.expires_at <= self.clock.time():
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
        return entry.expires_at > self.clock.time()

    def _maybe_sweep(self) -> None:
        now = self.clock.time()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_INTERVAL_S
        for sid in [sid for sid, e in self._sessions.items() if e.expires_at <= now]:
            self._remove(sid)


def _discard(index: dict[str, set[str]], key: str, member: str) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(member)
        if not members:
            del index[key]
