"""The session manager: what endpoints ask of sessions — load (and slide), open, end, list.

Endpoints never touch a store. A gateway reads the caller's session id with its own reader —
the cookie reader here for the web, the bearer reader of
:class:`shared.identity.mobile_tokens.MobileTokenHandler` for apps — and the manager does the
rest. Loading the session is the ``session.load`` span of every authenticated request (its kind
and whether it was found, never its id or user), and feeds ``bff.sessions.active``.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Mapping
from typing import Any

import msgspec

from shared.identity.dpop import DpopKey, session_key
from shared.identity.errors import IdpUnavailable, NotSignedIn
from shared.identity.oidc import OidcRelyingParty
from shared.identity.records import SessionAccess, SessionKind, SessionRecord, TokenSet
from shared.identity.revocation_handoff import RevocationHandoff
from shared.identity.session_store import SessionStore
from shared.platform.clock import Clock
from shared.platform.crypto import DecryptionError
from shared.platform.keys import KeyedHasher
from shared.platform.logging import get_logger
from shared.platform.metrics import ActiveSessions
from shared.platform.redis import Rider
from shared.platform.settings import Settings
from shared.platform.telemetry import child_span

MAX_SESSION_ID_LENGTH = 128
MAX_USER_AGENT_LENGTH = 256
MAX_SLIDE_INTERVAL_S = 60.0

_logger = get_logger("bff.identity")


class SessionManager:
    """Sessions for endpoints: the store behind them is a detail."""

    def __init__(
        self,
        store: SessionStore,
        oidc: OidcRelyingParty,
        settings: Settings,
        keys: KeyedHasher,
        clock: Clock,
        active: ActiveSessions | None = None,
        handoff: RevocationHandoff | None = None,
    ) -> None:
        self.store = store
        self._oidc = oidc
        self.kind: SessionKind = settings.gateway
        self._handoff = handoff
        self.idle_timeout_s = settings.session_idle_timeout_s
        self.absolute_timeout_s = settings.session_absolute_timeout_s
        self.max_per_user = settings.session_max_per_user
        # Sliding writes to the store: once a meaningful part of the idle window has passed is
        # enough (a session may then end up to this much sooner than a strict slide, never later).
        self.slide_interval_s = min(MAX_SLIDE_INTERVAL_S, self.idle_timeout_s / 20)
        self._keys = keys
        self.clock = clock
        self._active = active

    async def load(
        self, session_id: str | None, *, slide: bool = True, rider: Rider | None = None
    ) -> SessionRecord | None:
        """The session behind an id, if it is live; slides the idle timeout unless told not to.
        ``rider``'s commands (a request's rate-limit count) travel with the session's read."""
        if not session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
            return None
        with child_span("session.load") as span:
            if slide:
                record = await self.store.get_and_slide(
                    session_id,
                    now=self.clock.time(),
                    idle_timeout=self.idle_timeout_s,
                    min_interval=self.slide_interval_s,
                    rider=rider,
                )
            else:
                record = await self.store.get(session_id, rider=rider)
            span.set_attribute("bff.session.found", record is not None)
            if record is None:
                return None
            span.set_attribute("bff.session.kind", record.kind)
        if self._active is not None:
            self._active.seen(self._keys.hex("session-key", record.id))
        return record

    async def require(
        self, session_id: str | None, *, slide: bool = True, rider: Rider | None = None
    ) -> SessionRecord:
        """Like :meth:`load`, but ``NotSignedIn`` instead of None."""
        record = await self.load(session_id, slide=slide, rider=rider)
        if record is None:
            raise NotSignedIn(credentials_sent=bool(session_id))
        return record

    async def slide(self, record: SessionRecord) -> SessionRecord:
        """Push the idle expiry out from now (never past the absolute expiry), when it was last
        slid at least ``slide_interval_s`` ago; returns the record as it now stands."""
        now = self.clock.time()
        if now - record.last_seen_at < self.slide_interval_s:
            return record
        if not await self.store.touch(record.id, now, self.idle_timeout_s):
            return record
        idle = min(now + self.idle_timeout_s, record.absolute_expires_at)
        return msgspec.structs.replace(record, last_seen_at=now, idle_expires_at=idle)

    async def open(
        self,
        *,
        kind: SessionKind,
        sub: str,
        tokens: TokenSet,
        claims: Mapping[str, Any],
        idp_sid: str | None,
        user_agent: str | None,
        extra: Mapping[str, Any] | None = None,
        access: SessionAccess | None = None,
    ) -> SessionRecord:
        """Create a new session with a fresh random id (never one the client chose)."""
        record = self.store.codec.new_record(
            kind=kind,
            sub=sub,
            tokens=tokens,
            claims=claims,
            idle_timeout=self.idle_timeout_s,
            absolute_timeout=self.absolute_timeout_s,
            now=self.clock.time(),
            idp_sid=idp_sid,
            user_agent=device_of(user_agent),
            extra=extra,
            access=access,
        )
        await self.store.create(record)
        _logger.info("login_succeeded", session_kind=kind)
        await self._end_oldest_beyond_cap(record)
        return record

    async def _end_oldest_beyond_cap(self, newest: SessionRecord) -> None:
        """``BFF_SESSION_MAX_PER_USER``: a user's sessions (every device, both gateways) do not
        pile up without bound, say from a script logging in in a loop; past the cap the oldest
        end, as a logout would end them (their refresh tokens revoked)."""
        others = [s for s in await self.store.list_for_user(newest.sub) if s.id != newest.id]
        for oldest in others[: max(0, len(others) + 1 - self.max_per_user)]:
            await self.end(oldest)
            _logger.info("session_ended_over_cap", session_kind=oldest.kind)

    async def end(self, record: SessionRecord) -> str | None:
        """End one session here (every instance sees it at once) and revoke its refresh token
        at the IdP; returns the ID token, for the end-session redirect's ``id_token_hint``."""
        try:
            tokens: TokenSet | None = self.store.codec.open_tokens(record)
        except DecryptionError:
            tokens = None
        await self.store.delete(record.id)
        if tokens is not None and tokens.refresh_token:
            await self._revoke(record, tokens.refresh_token, session_key(tokens))
        return tokens.id_token if tokens else None

    async def _revoke(
        self, record: SessionRecord, refresh_token: str, dpop_key: DpopKey | None
    ) -> None:
        if record.kind != self.kind and self._handoff is not None:
            # The other gateway's client owns the token: only it may revoke it.
            await self._handoff.hand_off(record)
            return
        try:
            await self._oidc.revoke_refresh_token(refresh_token, dpop_key=dpop_key)
        except IdpUnavailable:
            _logger.warning("token_revocation_skipped")

    async def list_for_user(self, sub: str) -> list[SessionRecord]:
        return await self.store.list_for_user(sub)

    def expires_in(self, record: SessionRecord) -> int:
        """Seconds until the session ends if nothing happens, as the record was loaded."""
        return max(0, math.ceil(record.expires_at - self.clock.time()))

    def public_id(self, record: SessionRecord) -> str:
        """The id a client may see and send back (sessions list, logout link): a keyed hash,
        never the session id itself, which is the cookie's or the bearer's secret."""
        return self._keys.short("public-session-id", record.id)

    def has_public_id(self, record: SessionRecord, public_id: str) -> bool:
        """Whether ``public_id`` names this session (also as named before a key rotation)."""
        return any(
            hmac.compare_digest(candidate.encode(), public_id.encode())
            for candidate in self._keys.short_candidates("public-session-id", record.id)
        )


class CookieSessionReader:
    """The web's reader: the session id is the value of one HttpOnly cookie."""

    def __init__(self, manager: SessionManager, cookie_name: str) -> None:
        self.manager = manager
        self.cookie_name = cookie_name

    async def read(self, cookies: Mapping[str, str], *, slide: bool = True) -> SessionRecord | None:
        return await self.manager.load(cookies.get(self.cookie_name), slide=slide)

    async def require(
        self, cookies: Mapping[str, str], *, slide: bool = True, rider: Rider | None = None
    ) -> SessionRecord:
        return await self.manager.require(cookies.get(self.cookie_name), slide=slide, rider=rider)


USER_CLAIMS = (
    "sub",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "email",
    "email_verified",
    "picture",
    "locale",
)


def shown_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The ID token claims a session keeps: what ``/bff/user`` and ``/m/v1/me`` show, no more."""
    return {name: claims[name] for name in USER_CLAIMS if name in claims}


def device_of(user_agent: str | None) -> str | None:
    """The user agent a session keeps, to name the device in the sessions list: bounded."""
    return (user_agent or "")[:MAX_USER_AGENT_LENGTH] or None
