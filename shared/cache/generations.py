"""A user's cache generations read in their session's round trip, so that their entries can be
served from level 1 on the request that read them.

A per-user entry is valid under its user's current generation of its kind (``redis_level``):
invalidating a kind writes a new generation, and every instance must see it on the very next
request (an order placed on one instance shows on the next screen from any other). So a per-user
entry used to be read from Redis with its generation on every lookup: a second round trip per
screen after the session's own. The generations are one small hash per user, and the session's
read is a round trip every API request makes anyway; ``GenerationsRider`` rides the hash in it
(``shared.platform.redis.Rider``), and a lookup under the generations this request read may
serve an entry this process holds when it was stored under the same generation and is fresh.

The session's user is known only once the record is read, so each process remembers which user
a session belongs to (as a keyed digest of the session id: never the id itself, never the
user), and learns it on a session's first request here. That first request reads its entries
from Redis as before. What was read is kept for the request alone (a context variable each
request sets when its rider is made), and used only for keys of the same user.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from shared.cache.keys import CacheKey, RedisNames, UserKeys
from shared.cache.local import Lru

__all__ = ["GenerationsRider", "KnownGenerations", "SessionUsers", "known_generation"]

_REMEMBERED_SESSIONS: Final = 10_000


@dataclass(frozen=True, slots=True)
class KnownGenerations:
    """One user's generations as this request read them; a kind not in them is ``""``."""

    tag: str
    generations: Mapping[str, str]


_read_for_request: ContextVar[KnownGenerations | None] = ContextVar(
    "bff_cache_generations", default=None
)


def known_generation(key: CacheKey) -> str | None:
    """The generation of ``key``'s kind for its user as this request read it with the session,
    or None when it did not (another user, no riding read, a shared key)."""
    known = _read_for_request.get()
    if known is None or key.user_tag != known.tag:
        return None
    return known.generations.get(key.kind, "")


class SessionUsers:
    """Which user each session belongs to, per process: a bounded map from a keyed digest of the
    session id (under a key of this process, made at start) to the user's cache tag. A session
    never changes users, so a remembered pair cannot go wrong; it only picks what to read."""

    def __init__(self, users: UserKeys, names: RedisNames) -> None:
        self._users = users
        self._names = names
        self._digest_key = os.urandom(32)
        self._tags: Lru[str] = Lru(_REMEMBERED_SESSIONS)

    def rider(self) -> GenerationsRider:
        """A rider for this request's session read; what an earlier request in this context read
        is forgotten here."""
        _read_for_request.set(None)
        return GenerationsRider(self)

    def digest(self, session_id: str) -> str:
        return hashlib.blake2b(
            session_id.encode(), key=self._digest_key, digest_size=16
        ).hexdigest()

    def tag_of(self, digest: str) -> str | None:
        return self._tags.get(digest)

    def learn(self, digest: str, sub: str) -> str:
        tag = self._users.tag(sub)
        self._tags.put(digest, tag)
        return tag

    def generations_name(self, tag: str) -> str:
        return self._names.generations_of(tag)


_NOT_SENT: Final = object()


class GenerationsRider:
    """One request's read of its user's generations, in the round trip of its session's read."""

    __slots__ = ("_answer", "_digest", "_sessions", "_tag")

    def __init__(self, sessions: SessionUsers) -> None:
        self._sessions = sessions
        self._digest: str | None = None
        self._tag: str | None = None
        self._answer: Any = _NOT_SENT

    def board(self, pipe: Any, subject: str) -> int:
        """``HGETALL`` of the generations of the user the session ``subject`` belongs to, when
        this process has seen that session before; nothing otherwise."""
        self._digest = self._sessions.digest(subject)
        self._tag = self._sessions.tag_of(self._digest)
        if self._tag is None:
            return 0
        pipe.hgetall(self._sessions.generations_name(self._tag))
        return 1

    def land(self, answers: list[Any]) -> None:
        self._answer = answers[0] if answers else _NOT_SENT

    def learn(self, sub: str) -> None:
        """The session's record was read and is ``sub``'s: remember whose session it is, and
        keep the generations read with it for this request (a failed read keeps nothing, and
        the lookups read from Redis as without a rider)."""
        if self._digest is None:  # never boarded: the store had no round trip to ride
            return
        tag = self._sessions.learn(self._digest, sub)
        answer = self._answer
        if tag == self._tag and isinstance(answer, dict):
            generations = {_text(kind): _text(value) for kind, value in answer.items()}
            _read_for_request.set(KnownGenerations(tag, generations))


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
