"""The ``/auth/*`` endpoints: a token handler for native apps (RFC 8252, RFC 7636).

The app never talks to the IdP and never holds an IdP token. It opens the system browser at
``/auth/authorize`` with its own PKCE challenge; the gateway runs its own confidential code flow
with the IdP (PKCE, ``state``, ``nonce``, ``iss``), keeps the IdP tokens in a server-side
session, and hands the app a one-time code, redeemed at ``/auth/token`` for opaque tokens
(:mod:`bff_mobile.tokens`). Threats and what stops them:

* **Open redirects and code theft by another app.** ``redirect_uri`` must equal one of
  ``BFF_MOBILE_REDIRECT_URIS`` character for character (no prefix, case or trailing-slash
  leniency, and so no variable loopback port either); anything wrong with the request is a
  plain 400 page, never a redirect to an unchecked URI.
* **An intercepted one-time code** (another app claiming the same custom scheme) is useless
  without the app's PKCE verifier; it lives ``CODE_TTL_S`` and works once. A second redemption
  ends the session the first one created (RFC 6749 4.1.2), since one of the two was a thief.
* **A login finished in another browser** (an attacker's authorize link completed by the
  victim): the pending attempt is bound to the browser that started it by an HttpOnly,
  SameSite=Lax cookie whose random value's hash is in the attempt, and each attempt is taken
  once from the store (keyed by a hash of the gateway's IdP ``state``, sealed).
* **IdP mix-up and ID-token substitution**: ``iss`` (RFC 9207), the ID token and its ``nonce``
  are checked as in the web gateway.

Errors at ``/auth/token`` use the OAuth format (``{"error", "error_description"}``, 400), which
is what app OAuth libraries understand; everything else is problem+json.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import msgspec
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import CacheControlHeader, Cookie
from litestar.di import Provide
from litestar.params import URLEncodedBody
from litestar.response import Redirect

from bff_mobile.tokens import (
    IssuedTokens,
    MobileSession,
    TokenRefused,
    bearer_session,
    end_mobile_session,
    family_extra,
    find_session_id,
    identity_of,
    index_tokens,
    mint_tokens,
    rotate,
)
from shared.identity.oidc import IdpUnavailable, OidcError
from shared.identity.records import TokenSet
from shared.identity.wiring import Identity, shown_claims
from shared.platform.crypto import new_opaque_id
from shared.platform.errors import current_trace_id
from shared.platform.logging import get_logger
from shared.platform.settings import Settings

LOGIN_TTL_S = 600
CODE_TTL_S = 60
USED_CODE_MEMORY_S = 600  # how long a redeemed code is remembered, to spot its replay
MAX_STATE_LENGTH = 512
TOKEN_REQUEST_MAX_BYTES = 16 * 1024

_CODE_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a SHA-256 digest, no padding
_CODE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 4.1
_OPAQUE = re.compile(r"[A-Za-z0-9_-]{32,128}")  # codes and cookie values from new_opaque_id()
_VISIBLE_ASCII = re.compile(r"[\x20-\x7e]+")  # RFC 6749 VSCHAR, what "state" may hold
# IdP errors the app can act on; anything else (including the ones about the gateway's own
# client registration, which the app cannot fix) reaches it as server_error.
_PASSED_IDP_ERRORS = frozenset(
    {
        "access_denied",
        "login_required",
        "consent_required",
        "interaction_required",
        "account_selection_required",
        "temporarily_unavailable",
        "server_error",
    }
)
_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}

_logger = get_logger("bff.mobile.auth")


class AppAuthorization(msgspec.Struct, frozen=True):
    """What the app asked for at ``/auth/authorize``; kept until its code is redeemed."""

    redirect_uri: str
    state: str
    code_challenge: str


class PendingLogin(msgspec.Struct, frozen=True):
    """One login in progress at the IdP, stored sealed and taken once by the callback."""

    app: AppAuthorization
    nonce: str
    code_verifier: str
    browser_binding: str  # SHA-256 of the login cookie's value


class IssuedCode(msgspec.Struct, frozen=True):
    """What a one-time code stands for, stored sealed for ``CODE_TTL_S``."""

    app: AppAuthorization
    sub: str
    idp_sid: str | None
    claims: dict[str, Any]
    tokens: TokenSet


class TokenResponseBody(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6750 token type, not a secret


class MeView(msgspec.Struct, rename="camel"):
    sub: str
    name: str | None
    email: str | None
    session_expires_in: int


class BackchannelLogoutForm(msgspec.Struct):
    logout_token: str = ""


class LoginPageError(Exception):
    """A browser-facing refusal, shown as a plain page; ``detail`` is our own fixed text."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


class OAuthError(Exception):
    """A token-endpoint refusal in the OAuth error format (RFC 6749 5.2)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


# --- responses -----------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign-in problem</title></head>
<body>
<h1>Sign-in could not continue</h1>
<p>{detail}</p>
<p>Close this window and start the sign-in again from the app.</p>
<p>Reference: {reference}</p>
</body>
</html>
"""


def login_error_page(detail: str, status: int = 400) -> Response[str]:
    """The system browser shows this; the gateway's security headers come from its hook."""
    body = _PAGE.format(
        detail=html.escape(detail), reference=html.escape(current_trace_id() or "none")
    )
    return Response(body, status_code=status, media_type=MediaType.HTML, headers=_NO_STORE)


def oauth_error(error: str, description: str) -> Response[bytes]:
    return Response(
        msgspec.json.encode({"error": error, "error_description": description}),
        status_code=400,
        media_type=MediaType.JSON,
        headers=_NO_STORE,
    )


def _to_app(app: AppAuthorization, **params: str) -> Redirect:
    """302 to the app's (checked) redirect URI with ``params`` and the app's ``state``."""
    separator = "&" if "?" in app.redirect_uri else "?"
    query = urlencode({**params, "state": app.state})
    return Redirect(f"{app.redirect_uri}{separator}{query}", status_code=302, headers=_NO_STORE)


# --- the login cookie ----------------------------------------------------------------------


def login_cookie_name(settings: Settings) -> str:
    """``__Host-`` in production (Secure, Path=/, no Domain: a sibling subdomain cannot plant
    it); a plain name in dev over http, where browsers refuse ``__Host-``."""
    return "__Host-bff-mobile-login" if settings.is_prod else "bff-mobile-login"


def _login_cookie(settings: Settings, value: str) -> Cookie:
    return Cookie(
        key=login_cookie_name(settings),
        value=value,
        path="/",
        max_age=LOGIN_TTL_S,
        secure=settings.is_prod,
        httponly=True,
        samesite="lax",  # it must ride the IdP's top-level redirect back to the callback
    )


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _pending_key(idp_state: str) -> str:
    return "mobile-login:" + _digest(idp_state)


def _code_key(code: str) -> str:
    return "mobile-code:" + _digest(code)


# --- GET /auth/authorize -------------------------------------------------------------------


def _single(request: Request[Any, Any, Any], name: str) -> str | None:
    """A query parameter that must not repeat (RFC 6749 3.1): which copy wins is ambiguous."""
    values = request.query_params.getall(name, [])
    if len(values) > 1:
        raise LoginPageError(f"The parameter {name} was sent more than once")
    return values[0] if values else None


def read_app_authorization(request: Request[Any, Any, Any], settings: Settings) -> AppAuthorization:
    """The app's request, or ``LoginPageError``: checked before anything is redirected."""
    redirect_uri = _single(request, "redirect_uri")
    if not redirect_uri or redirect_uri not in settings.mobile_redirect_uris:
        raise LoginPageError("The app's redirect_uri is not registered with this gateway")
    state = _single(request, "state")
    if not state or len(state) > MAX_STATE_LENGTH or not _VISIBLE_ASCII.fullmatch(state):
        raise LoginPageError("The app sent no usable state")
    if _single(request, "code_challenge_method") != "S256":
        raise LoginPageError("PKCE with code_challenge_method=S256 is required")
    code_challenge = _single(request, "code_challenge")
    if not code_challenge or not _CODE_CHALLENGE.fullmatch(code_challenge):
        raise LoginPageError("The code_challenge must be 43 base64url characters (S256)")
    return AppAuthorization(redirect_uri=redirect_uri, state=state, code_challenge=code_challenge)


@get("/auth/authorize", summary="Start an app login in the system browser")
async def authorize(request: Request[Any, Any, Any]) -> Response[Any]:
    identity = identity_of(request)
    settings = identity.settings
    try:
        app = read_app_authorization(request, settings)
    except LoginPageError as exc:
        _logger.info("mobile_authorize_refused", reason=exc.detail)
        return login_error_page(exc.detail, exc.status)
    # One browser value for all attempts of this browser, so parallel attempts all complete.
    binding = request.cookies.get(login_cookie_name(settings)) or ""
    if not _OPAQUE.fullmatch(binding):
        binding = new_opaque_id()
    idp_state, nonce, code_verifier = new_opaque_id(), new_opaque_id(), secrets.token_urlsafe(48)
    try:
        url = await identity.oidc.authorization_url(
            state=idp_state, nonce=nonce, code_verifier=code_verifier
        )
    except IdpUnavailable:
        return login_error_page("The identity provider is unavailable; try again soon", 503)
    pending = PendingLogin(
        app=app, nonce=nonce, code_verifier=code_verifier, browser_binding=_digest(binding)
    )
    await identity.sessions.put_one_time(
        _pending_key(idp_state), msgspec.msgpack.encode(pending), LOGIN_TTL_S
    )
    return Redirect(
        url, status_code=302, headers=_NO_STORE, cookies=[_login_cookie(settings, binding)]
    )


# --- GET /auth/callback --------------------------------------------------------------------


async def _take_pending(
    request: Request[Any, Any, Any], identity: Identity, idp_state: str | None
) -> PendingLogin:
    if not idp_state or len(idp_state) > MAX_STATE_LENGTH:
        raise LoginPageError("The sign-in response has no state")
    # Taken before the browser check: whoever replays a leaked callback URL elsewhere can only
    # spoil that attempt (the app starts again), never finish it.
    raw = await identity.sessions.take_one_time(_pending_key(idp_state))
    if raw is None:
        raise LoginPageError("This sign-in response is unknown, expired or was already used")
    try:
        pending = msgspec.msgpack.decode(raw, type=PendingLogin)
    except msgspec.DecodeError:
        raise LoginPageError(
            "This sign-in response is unknown, expired or was already used"
        ) from None
    cookie = request.cookies.get(login_cookie_name(identity.settings)) or ""
    if not hmac.compare_digest(_digest(cookie).encode(), pending.browser_binding.encode()):
        _logger.info("mobile_callback_refused", reason="browser_binding")
        raise LoginPageError("This sign-in was started in another browser")
    return pending


@get("/auth/callback", summary="The identity provider's redirect back after an app login")
async def callback(request: Request[Any, Any, Any]) -> Response[Any]:
    identity = identity_of(request)
    try:
        idp_state, code = _single(request, "state"), _single(request, "code")
        error, iss = _single(request, "error"), _single(request, "iss")
        pending = await _take_pending(request, identity, idp_state)
    except LoginPageError as exc:
        return login_error_page(exc.detail, exc.status)
    app = pending.app
    if error is not None:
        _logger.info("mobile_login_refused_by_idp")
        return _to_app(app, error=error if error in _PASSED_IDP_ERRORS else "server_error")
    try:
        tokens, claims = await identity.complete_login(
            code=code, iss=iss, code_verifier=pending.code_verifier, nonce=pending.nonce
        )
    except IdpUnavailable:
        return _to_app(app, error="temporarily_unavailable")
    except OidcError as exc:
        _logger.info("mobile_login_rejected", reason=exc.reason)
        return _to_app(app, error="server_error")
    issued = IssuedCode(
        app=app,
        sub=str(claims["sub"]),
        idp_sid=str(claims["sid"]) if claims.get("sid") else None,
        claims=shown_claims(claims),
        tokens=tokens,
    )
    one_time_code = new_opaque_id()
    await identity.sessions.put_one_time(
        _code_key(one_time_code), msgspec.msgpack.encode(issued), CODE_TTL_S
    )
    _logger.info("mobile_code_issued")
    return _to_app(app, code=one_time_code)


# --- POST /auth/token ----------------------------------------------------------------------


async def _read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    if request.content_type[0] != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "The body must be application/x-www-form-urlencoded")
    form = await request.form()
    fields: dict[str, str] = {}
    for name in form:
        values = form.getall(name)
        if len(values) != 1 or not isinstance(values[0], str):
            raise OAuthError("invalid_request", f"The parameter {name} was sent more than once")
        fields[name] = values[0]
    return fields


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise OAuthError("invalid_request", f"The parameter {name} is required")
    return value


async def _end_session_of_replayed_code(identity: Identity, code: str) -> None:
    """RFC 6749 4.1.2: a code used twice revokes what it was first redeemed for."""
    found = await find_session_id(identity, "used-code", code)
    if found is None:
        return
    record = await identity.sessions.get(found[0])
    if record is not None:
        await end_mobile_session(identity, record)
    _logger.warning("authorization_code_replay")


async def _redeem_code(
    request: Request[Any, Any, Any], identity: Identity, form: dict[str, str]
) -> IssuedTokens:
    code, verifier = _required(form, "code"), _required(form, "code_verifier")
    if not _CODE_VERIFIER.fullmatch(verifier):
        raise OAuthError("invalid_request", "The code_verifier is not a valid PKCE verifier")
    if not _OPAQUE.fullmatch(code):
        raise TokenRefused("The code is not valid")
    raw = await identity.sessions.take_one_time(_code_key(code))
    if raw is None:
        await _end_session_of_replayed_code(identity, code)
        raise TokenRefused("The code is not valid, has expired or was already used")
    try:
        issued = msgspec.msgpack.decode(raw, type=IssuedCode)
    except msgspec.DecodeError:
        raise TokenRefused("The code is not valid") from None
    challenge = str(create_s256_code_challenge(verifier))
    if not hmac.compare_digest(challenge.encode(), issued.app.code_challenge.encode()):
        raise TokenRefused("The code_verifier does not match the code_challenge")
    redirect_uri = form.get("redirect_uri")
    if redirect_uri is not None and redirect_uri != issued.app.redirect_uri:
        raise TokenRefused("The redirect_uri does not match the authorization request")

    settings, sessions, now = identity.settings, identity.sessions, time.time()
    tokens, family = mint_tokens(
        identity,
        generation=1,
        now=now,
        session_expires_at=now + settings.session_absolute_timeout_s,
    )
    record = sessions.new_record(
        kind="mobile",
        sub=issued.sub,
        tokens=issued.tokens,
        claims=issued.claims,
        idle_timeout=settings.session_idle_timeout_s,
        absolute_timeout=settings.session_absolute_timeout_s,
        idp_sid=issued.idp_sid,
        user_agent=(request.headers.get("user-agent") or "")[:256] or None,
        extra=family_extra({}, family),
        now=now,
    )
    await sessions.create(record)
    await index_tokens(
        identity, record.id, family, now=now, session_expires_at=record.absolute_expires_at
    )
    await sessions.index_token(
        "used-code", identity.cipher.hash_token(code), record.id, USED_CODE_MEMORY_S
    )
    _logger.info("login_succeeded", session_kind="mobile")
    return tokens


@post(
    "/auth/token",
    status_code=200,
    request_max_body_size=TOKEN_REQUEST_MAX_BYTES,
    summary="Redeem a one-time code, or rotate a refresh token (OAuth token endpoint)",
)
async def token(request: Request[Any, Any, Any]) -> Response[Any]:
    identity = identity_of(request)
    try:
        form = await _read_form(request)
        grant_type = _required(form, "grant_type")
        if grant_type == "authorization_code":
            issued = await _redeem_code(request, identity, form)
        elif grant_type == "refresh_token":
            issued = await rotate(identity, _required(form, "refresh_token"))
        else:
            raise OAuthError("unsupported_grant_type", "Use authorization_code or refresh_token")
    except OAuthError as exc:
        return oauth_error(exc.error, exc.description)
    except TokenRefused as exc:
        return oauth_error("invalid_grant", exc.reason)
    body = TokenResponseBody(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
    )
    return Response(msgspec.json.encode(body), media_type=MediaType.JSON, headers=_NO_STORE)


# --- logout --------------------------------------------------------------------------------


@post(
    "/auth/logout",
    status_code=204,
    dependencies={"mobile_session": Provide(bearer_session)},
    summary="End the app's session and revoke its IdP refresh token",
)
async def logout(request: Request[Any, Any, Any], mobile_session: MobileSession) -> None:
    await end_mobile_session(identity_of(request), mobile_session)
    _logger.info("logout", session_kind="mobile")


@post("/auth/backchannel-logout", status_code=200, summary="OIDC Back-Channel Logout receiver")
async def backchannel_logout(
    request: Request[Any, Any, Any],
    data: URLEncodedBody[BackchannelLogoutForm],
) -> Response[None]:
    await identity_of(request).backchannel_logout(data.logout_token)
    return Response(None, status_code=200, headers=_NO_STORE)


# --- GET /m/v1/me --------------------------------------------------------------------------


@get("/me", cache_control=CacheControlHeader(no_store=True), summary="The logged-in user")
async def me(request: Request[Any, Any, Any], mobile_session: MobileSession) -> MeView:
    """Mounted under ``/m/v1`` (bearer session and app-version gate come from the router)."""
    settings = identity_of(request).settings
    now = time.time()
    expires_at = min(now + settings.session_idle_timeout_s, mobile_session.absolute_expires_at)
    claims = mobile_session.claims
    return MeView(
        sub=mobile_session.sub,
        name=claims.get("name"),
        email=claims.get("email"),
        session_expires_in=max(0, int(expires_at - now)),
    )


ROUTES = [authorize, callback, token, logout, backchannel_logout]
