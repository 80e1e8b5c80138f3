"""One login flow for both gateways: only the hand-off differs.

begin()      -> the IdP's authorization URL and the attempt to keep (state, nonce, PKCE
                verifier); both gateways keep it in a sealed cookie of the browser that
                started it (``login_cookie``), never on the server
complete()   -> RFC 9207 ``iss``, the code exchange with this attempt's verifier, then the
                ID token and its nonce; ``LoginRejected`` or ``IdpUnavailable`` otherwise.
                A ``state`` is remembered as used only once its code was redeemed, so a
                copy of an old login cookie cannot complete it twice, while a callback
                without a valid code (anyone can send one) leaves nothing on the server
open_session() -> a new session with a fresh id (the web sets a cookie, the mobile gateway
                hands the app a one-time code first)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import msgspec

from shared.identity.errors import LoginRejected, OidcError
from shared.identity.oidc import OidcRelyingParty
from shared.identity.one_time import OneTimeStore
from shared.identity.records import SessionKind, SessionRecord, TokenSet
from shared.identity.sessions import SessionManager, shown_claims
from shared.platform.clock import Clock
from shared.platform.crypto import new_opaque_id

LOGIN_TTL_S = 600
"""How long a login may stay at the IdP, from ``begin`` to the callback."""
_USED_STATE_PREFIX = "login-state:"
_ALREADY_USED = "This login response was already used"


class LoginAttempt(msgspec.Struct, frozen=True):
    """What binds the IdP's answer to the login that asked for it; kept until the callback."""

    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A login the IdP vouched for: the tokens and who it is."""

    tokens: TokenSet
    sub: str
    idp_sid: str | None
    claims: dict[str, Any]
    """Only the claims a session keeps (``shown_claims``)."""


class LoginFlow:
    def __init__(
        self,
        oidc: OidcRelyingParty,
        sessions: SessionManager,
        clock: Clock,
        one_time: OneTimeStore,
    ) -> None:
        self.oidc = oidc
        self.sessions = sessions
        self.clock = clock
        self._one_time = one_time

    async def begin(self) -> tuple[str, LoginAttempt]:
        """A new attempt and the URL to send the browser to (``IdpUnavailable`` if the IdP's
        discovery cannot be read; ``OidcError`` if it refuses a pushed request)."""
        attempt = LoginAttempt(
            state=new_opaque_id(), nonce=new_opaque_id(), code_verifier=secrets.token_urlsafe(48)
        )
        url = await self.oidc.authorization_url(
            state=attempt.state, nonce=attempt.nonce, code_verifier=attempt.code_verifier
        )
        return url, attempt

    async def complete(
        self, attempt: LoginAttempt, *, code: str | None, iss: str | None
    ) -> LoginResult:
        used_marker = _USED_STATE_PREFIX + attempt.state
        if await self._one_time.seen(used_marker):
            raise LoginRejected(_ALREADY_USED)
        try:
            await self.oidc.check_authorization_response_issuer(iss)
            if not code:
                raise OidcError("the login response has no code")
            response = await self.oidc.exchange_code(code=code, code_verifier=attempt.code_verifier)
            if not response.id_token:
                raise OidcError("the identity provider sent no ID token")
            claims = await self.oidc.validate_id_token(response.id_token, nonce=attempt.nonce)
        except OidcError as exc:
            raise LoginRejected(f"The login response was rejected: {exc.reason}") from exc
        # Only now, with a code redeemed (a login the IdP vouched for), is the state remembered;
        # it outlives every cookie that could still hold the attempt.
        if not await self._one_time.remember_once(used_marker, LOGIN_TTL_S * 2):
            raise LoginRejected(_ALREADY_USED)
        tokens = TokenSet(
            access_token=response.access_token,
            refresh_token=response.refresh_token,
            id_token=response.id_token,
            access_token_expires_at=response.expires_at,
            access_token_issued_at=self.clock.time(),
        )
        return LoginResult(
            tokens=tokens,
            sub=str(claims["sub"]),
            idp_sid=str(claims["sid"]) if claims.get("sid") else None,
            claims=shown_claims(claims),
        )

    async def open_session(
        self,
        kind: SessionKind,
        result: LoginResult,
        *,
        user_agent: str | None,
        extra: dict[str, Any] | None = None,
    ) -> SessionRecord:
        return await self.sessions.open(
            kind=kind,
            sub=result.sub,
            tokens=result.tokens,
            claims=result.claims,
            idp_sid=result.idp_sid,
            user_agent=user_agent,
            extra=extra,
        )
