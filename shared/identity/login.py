"""One login flow for both gateways: only the hand-off differs.

begin()      -> the IdP's authorization URL and the attempt to keep (state, nonce, PKCE
                verifier, and a step-up's ``max_age``); both gateways keep it in a sealed
                cookie of the browser that started it (``login_cookie``), never on the server
complete()   -> RFC 9207 ``iss``, the code exchange with this attempt's verifier, then the
                ID token and its nonce (and ``auth_time`` when ``max_age`` was asked), and
                what the session may do (``shared.identity.access``: roles, granted scopes,
                login time); ``LoginRejected`` or ``IdpUnavailable`` otherwise.
                A ``state`` is remembered as used only once its code was redeemed, so a
                copy of an old login cookie cannot complete it twice, while a callback
                without a valid code (anyone can send one) leaves nothing on the server
open_session() -> a new session with a fresh id (the web sets a cookie, the mobile gateway
                hands the app a one-time code first)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import msgspec

from shared.identity.access import RolesSource, access_at_login, is_epoch_time
from shared.identity.dpop import DpopKey, is_dpop_bound
from shared.identity.errors import LoginRejected, OidcError
from shared.identity.oidc import OidcRelyingParty
from shared.identity.one_time import OneTimeStore
from shared.identity.provider_jwts import CLOCK_LEEWAY_S
from shared.identity.records import SessionAccess, SessionKind, SessionRecord, TokenSet
from shared.identity.sessions import SessionManager, shown_claims
from shared.platform.clock import Clock
from shared.platform.crypto import new_opaque_id

LOGIN_TTL_S = 600
"""How long a login may stay at the IdP, from ``begin`` to the callback."""
_USED_STATE_PREFIX = "login-state:"
_ALREADY_USED = "This login response was already used"
MAX_LOGIN_AGE_S = 86400


class LoginOptions(msgspec.Struct, frozen=True):
    """How a login asks the IdP to authenticate: a step-up asks for a new login
    (``prompt=login``) no older than ``max_age`` seconds (OIDC Core 3.1.2.1)."""

    prompt_login: bool = False
    max_age: int | None = None


def parse_login_options(prompt: str | None, max_age: str | None) -> LoginOptions:
    """The options of a login request; ``ValueError`` (safe text) for anything else."""
    if prompt not in (None, "", "login"):
        raise ValueError("prompt may only be login")
    age: int | None = None
    if max_age not in (None, ""):
        if not max_age.isascii() or not max_age.isdigit() or int(max_age) > MAX_LOGIN_AGE_S:
            raise ValueError(f"max_age must be a number of seconds up to {MAX_LOGIN_AGE_S}")
        age = int(max_age)
    return LoginOptions(prompt_login=prompt == "login", max_age=age)


class LoginAttempt(msgspec.Struct, frozen=True):
    """What binds the IdP's answer to the login that asked for it; kept until the callback.

    ``max_age`` is the login age this attempt asked for, checked against the ID token's
    ``auth_time`` (absent in cookies sealed before it existed: no check). ``dpop_key`` is the
    private key (PEM) of the session this login will open, with ``BFF_OIDC_DPOP``: made here,
    before the authorization request, so the code is bound to it (``dpop_jkt``) and redeemed
    with its proof; it rides sealed in the login cookie, and moves into the session's sealed
    token set."""

    state: str
    nonce: str
    code_verifier: str
    max_age: int | None = None
    dpop_key: bytes | None = None


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A login the IdP vouched for: the tokens and who it is."""

    tokens: TokenSet
    sub: str
    idp_sid: str | None
    claims: dict[str, Any]
    """Only the claims a session keeps (``shown_claims``)."""
    access: SessionAccess = field(default_factory=SessionAccess)
    """Roles, granted scopes and the login time (``shared.identity.access``)."""


class LoginFlow:
    def __init__(
        self,
        oidc: OidcRelyingParty,
        sessions: SessionManager,
        clock: Clock,
        one_time: OneTimeStore,
        *,
        roles: RolesSource | None = None,
    ) -> None:
        self.oidc = oidc
        self.sessions = sessions
        self.clock = clock
        self._one_time = one_time
        self.roles = roles or RolesSource()

    async def begin(self, options: LoginOptions | None = None) -> tuple[str, LoginAttempt]:
        """A new attempt and the URL to send the browser to (``IdpUnavailable`` if the IdP's
        discovery cannot be read; ``OidcError`` if it refuses a pushed request)."""
        options = options or LoginOptions()
        dpop_key = self.oidc.new_dpop_key()
        attempt = LoginAttempt(
            state=new_opaque_id(),
            nonce=new_opaque_id(),
            code_verifier=secrets.token_urlsafe(48),
            max_age=options.max_age,
            dpop_key=dpop_key.private_pem() if dpop_key else None,
        )
        url = await self.oidc.authorization_url(
            state=attempt.state,
            nonce=attempt.nonce,
            code_verifier=attempt.code_verifier,
            prompt="login" if options.prompt_login else None,
            max_age=options.max_age,
            dpop_key=dpop_key,
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
            dpop_key = DpopKey.from_pem(attempt.dpop_key) if attempt.dpop_key else None
            response = await self.oidc.exchange_code(
                code=code, code_verifier=attempt.code_verifier, dpop_key=dpop_key
            )
            if not response.id_token:
                raise OidcError("the identity provider sent no ID token")
            claims = await self.oidc.validate_id_token(response.id_token, nonce=attempt.nonce)
            if attempt.max_age is not None:
                check_login_age(claims, attempt.max_age)
            roles = await self.roles.read(
                self.oidc,
                id_token_claims=claims,
                access_token=response.access_token,
                sub=str(claims["sub"]),
                dpop_key=dpop_key if is_dpop_bound(response.token_type) else None,
            )
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
            token_type=response.token_type,
            dpop_key=attempt.dpop_key,
        )
        return LoginResult(
            tokens=tokens,
            sub=str(claims["sub"]),
            idp_sid=str(claims["sid"]) if claims.get("sid") else None,
            claims=shown_claims(claims),
            access=access_at_login(
                claims,
                roles=roles,
                granted=response.scope,
                asked=self.oidc.scopes,
                now=self.clock.time(),
            ),
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
            access=result.access,
        )


def check_login_age(claims: dict[str, Any], max_age: int) -> None:
    """OIDC Core 3.1.2.1: a login asked with ``max_age`` must say when the user authenticated,
    and not longer ago than that (on the IdP's own clock: ``iat`` against ``auth_time``)."""
    auth_time, issued_at = claims.get("auth_time"), claims.get("iat")
    if not is_epoch_time(auth_time) or not is_epoch_time(issued_at):
        raise OidcError("the ID token does not say when the user logged in")
    if issued_at - auth_time > max_age + CLOCK_LEEWAY_S:
        raise OidcError("the login is older than the max_age asked for")
