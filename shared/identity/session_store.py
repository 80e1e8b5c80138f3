"""Where sessions live: the one interface the session manager uses, whatever the backend.

Two implementations keep exactly the same behaviour (the same tests run against both):
``RedisSessionStore`` (:mod:`shared.identity.session_store_redis`, standalone, Sentinel or
Cluster) and ``MemorySessionStore`` (:mod:`shared.identity.session_store_memory`, one process).
What they promise:

* **Bad data is never a 500.** Anything but a live, well-formed record reads as missing and is
  deleted.
* **Logout wins.** Field updates (``touch``, ``update_tokens``, ``update_extra``) only write to a
  record that still exists, so a refresh finishing after a logout cannot bring the session
  back, and they write only their own fields, so a ``touch`` cannot put back tokens that a
  parallel refresh has just replaced.
* **Indexes do not grow with dead ids.** Records expire; listing prunes what has gone.

Times are epoch seconds from the store's clock unless a caller passes ``now``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from shared.identity.records import SessionAccess, SessionRecord, TokenSet
from shared.identity.session_codec import SessionCodec
from shared.platform.clock import Clock
from shared.platform.redis import Rider


class SessionStore(ABC):
    """Sessions by id, by user and by IdP session."""

    def __init__(self, codec: SessionCodec, clock: Clock) -> None:
        self.codec = codec
        self.clock = clock

    @abstractmethod
    async def create(self, record: SessionRecord) -> None:
        """Store a new session; ``ValueError`` if its id is weak or taken or it is expired."""

    @abstractmethod
    async def get(
        self, session_id: str, *, now: float | None = None, rider: Rider | None = None
    ) -> SessionRecord | None:
        """The live session, or None (missing, expired, undecodable, tokens do not open).

        ``rider``'s commands go in the same round trip as the read, when there is one."""

    @abstractmethod
    async def get_and_slide(
        self,
        session_id: str,
        *,
        now: float,
        idle_timeout: float,
        min_interval: float,
        rider: Rider | None = None,
    ) -> SessionRecord | None:
        """:meth:`get`, and :meth:`touch` in the same step when the session was last slid at
        least ``min_interval`` seconds ago; the record returned is as stored after it."""

    @abstractmethod
    async def touch(self, session_id: str, now: float, idle_timeout: float) -> bool:
        """Slide the idle expiry to ``now + idle_timeout``, never past the absolute expiry.

        False if the session is missing or already expired (it is not revived).
        """

    @abstractmethod
    async def update_tokens(self, session_id: str, tokens: TokenSet) -> bool:
        """Replace the sealed tokens (after a refresh); False if the session is gone."""

    @abstractmethod
    async def update_access(self, session_id: str, access: SessionAccess) -> bool:
        """Replace what the session may do (roles and scopes after a refresh); False if gone."""

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
