"""Who the user is, for both gateways: the session store, the OIDC client and the token service.

They are built once in the lifespan (after Redis) into the ``IDENTITY`` state slot, which handlers
receive as the ``identity`` dependency.
Each gateway is its own confidential client at the IdP, with its own callback path.

Loading the session is the ``session.load`` span of every authenticated request (its kind and
whether it was found, never its id or user), and feeds the ``bff.sessions.active`` metric.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar

from shared.identity.idp_tokens import TokenService
from shared.identity.oidc import (
    CLOCK_LEEWAY_S,
    LOGOUT_TOKEN_MAX_AGE_S,
    IdpUnavailable,
    OidcError,
    OidcRelyingParty,
)
from shared.identity.records import SessionRecord, TokenSet
from shared.identity.sessions import MemorySessionStore, RedisSessionStore, SessionStore
from shared.platform.crypto import DecryptionError, TokenCipher
from shared.platform.errors import BadRequest, NotReady
from shared.platform.logging import get_logger
from shared.platform.metrics import ActiveSessions
from shared.platform.settings import Settings
from shared.platform.state import StateSlot
from shared.platform.telemetry import child_span

_logger = get_logger("bff.identity")


@dataclass(frozen=True)
class Identity:
    settings: Settings
    cipher: TokenCipher
    sessions: SessionStore
    oidc: OidcRelyingParty
    tokens: TokenService
    active: ActiveSessions | None = field(default=None, compare=False)

    async def live_session(
        self, session_id: str | None, *, slide: bool = True
    ) -> SessionRecord | None:
        """The session behind an id, if it is live; slides the idle timeout unless told not to."""
        if not session_id or len(session_id) > 128:
            return None
        with child_span("session.load") as span:
            record = await self.sessions.get(session_id)
            span.set_attribute("bff.session.found", record is not None)
            if record is None:
                return None
            span.set_attribute("bff.session.kind", record.kind)
            if slide:
                now = time.time()
                await self.sessions.touch(record.id, now, self.settings.session_idle_timeout_s)
        if self.active is not None:
            self.active.seen(record.id)
        return record

    async def complete_login(
        self, *, code: str | None, iss: str | None, code_verifier: str, nonce: str
    ) -> tuple[TokenSet, dict[str, Any]]:
        """The IdP half of a callback, for both gateways: ``iss`` (RFC 9207), the code exchange
        with this attempt's PKCE verifier, then the ID token and its nonce. Raises
        ``OidcError`` (the login is refused) or ``IdpUnavailable``."""
        await self.oidc.check_authorization_response_issuer(iss)
        if not code:
            raise OidcError("the login response has no code")
        response = await self.oidc.exchange_code(code=code, code_verifier=code_verifier)
        if not response.id_token:
            raise OidcError("the identity provider sent no ID token")
        claims = await self.oidc.validate_id_token(response.id_token, nonce=nonce)
        tokens = TokenSet(
            access_token=response.access_token,
            refresh_token=response.refresh_token,
            id_token=response.id_token,
            access_token_expires_at=response.expires_at,
            access_token_issued_at=time.time(),
        )
        return tokens, claims

    async def end_session(self, record: SessionRecord) -> str | None:
        """End one session here (every instance sees it at once) and revoke its refresh token
        at the IdP; returns the ID token, for the end-session redirect's ``id_token_hint``."""
        try:
            tokens = self.sessions.open_tokens(record)
        except DecryptionError:
            tokens = None
        await self.sessions.delete(record.id)
        if tokens is not None and tokens.refresh_token:
            try:
                await self.oidc.revoke_refresh_token(tokens.refresh_token)
            except IdpUnavailable:
                _logger.warning("token_revocation_skipped")
        return tokens.id_token if tokens else None

    async def backchannel_logout(self, logout_token: str) -> int:
        """OIDC Back-Channel Logout: verify, refuse a replayed ``jti``, end the sessions (web
        and mobile alike, since they share the store). Returns how many ended."""
        if not logout_token or len(logout_token) > 16384:
            raise BadRequest("logout_token is required")
        try:
            claims = await self.oidc.validate_logout_token(logout_token)
        except IdpUnavailable:
            raise NotReady("The identity provider is unavailable") from None
        except OidcError as exc:
            _logger.info("backchannel_logout_rejected", reason=exc.reason)
            raise BadRequest(f"The logout token was rejected: {exc.reason}") from None
        jti_key = "logout-jti:" + hashlib.sha256(str(claims["jti"]).encode()).hexdigest()
        if not await self.sessions.remember_once(
            jti_key, LOGOUT_TOKEN_MAX_AGE_S + 2 * CLOCK_LEEWAY_S
        ):
            raise BadRequest("The logout token was already used")
        if claims.get("sid"):
            ended = await self.sessions.end_by_idp_sid(str(claims["sid"]))
        else:
            ended = await self.sessions.end_all_for_user(str(claims["sub"]))
        _logger.info("backchannel_logout", sessions_ended=ended)
        return ended


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


def public_session_id(session_id: str) -> str:
    """The id a client may see and send back (sessions list, logout link).

    Never the session id itself, which is the cookie's or the bearer's secret: a one-way hash of
    it (the id has 256 random bits, so the hash cannot be inverted or guessed).
    """
    digest = hashlib.sha256(b"bff public session id\x00" + session_id.encode()).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


IDENTITY = StateSlot("identity", Identity)


def identity_resource(callback_path: str):  # type: ignore[no-untyped-def]
    """A lifespan resource building the gateway's ``Identity`` with its callback URL."""

    @asynccontextmanager
    async def resource(app: Litestar) -> AsyncIterator[None]:
        settings: Settings = app.state.settings
        cipher = TokenCipher(settings.secret_key, settings.secret_key_previous)
        redis = app.state.redis
        sessions: SessionStore = (
            RedisSessionStore(redis, cipher) if redis is not None else MemorySessionStore(cipher)
        )
        oidc = OidcRelyingParty(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            redirect_uri=settings.public_url + callback_path,
            scopes=settings.oidc_scopes,
        )
        tokens = TokenService(sessions, oidc, redis, skew_s=settings.token_refresh_skew_s)
        active = ActiveSessions(settings.gateway, redis)
        IDENTITY.fill(app.state, Identity(settings, cipher, sessions, oidc, tokens, active))
        counting = asyncio.create_task(active.run(), name="active-sessions")
        try:
            yield
        finally:
            counting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await counting
            await oidc.aclose()

    return resource
