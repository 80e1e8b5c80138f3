"""The ``/auth/*`` endpoints: the HTTP side of the token handler for native apps (RFC 8252).

The app never talks to the IdP and never holds an IdP token. It opens the system browser at
``/auth/authorize`` with its own PKCE challenge; the gateway runs the shared login flow with the
IdP, keeps the IdP tokens in a server-side session, and hands the app a one-time code, redeemed
at ``/auth/token`` for opaque tokens. The rules (codes, PKCE, rotation, reuse) are the identity
layer's :class:`shared.identity.mobile_tokens.MobileTokenHandler`; this module reads requests and
shapes answers:

* **Open redirects.** ``redirect_uri`` must equal one of ``BFF_MOBILE_REDIRECT_URIS`` character
  for character (no prefix, case or trailing-slash leniency, and so no variable loopback port
  either); anything wrong with the request is a plain 400 page, never a redirect to an
  unchecked URI.
* **A login finished in another browser**: the attempt lives only in the browser that started
  it, in an HttpOnly, SameSite=Lax cookie sealed with AES-GCM (``PendingLoginCookie``, bounded
  in bytes): an anonymous ``/auth/authorize`` stores nothing on the server.

Errors at ``/auth/token`` use the OAuth format (``{"error", "error_description"}``), which is
what app OAuth libraries understand (``bff_mobile.errors``); the browser gets a plain page;
everything else is problem+json.
"""

from __future__ import annotations

import html
import re
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import msgspec
from litestar import MediaType, Response, get, post
from litestar.datastructures import CacheControlHeader, Cookie, MultiDict
from litestar.di import Provide
from litestar.params import HeaderParameter, QueryParams, RawBody, RequestCookies
from litestar.response import Redirect
from litestar.types import Scope

from bff_mobile.errors import (
    NO_STORE,
    OAUTH_ERRORS,
    TOKEN_ENDPOINT_RESPONSES,
    OAuthError,
    oauth_error_response,
)
from bff_mobile.tokens import DpopProof, MobileSession, app_request, bearer_session
from shared.identity.app_codes import AppAuthorization, PendingAppLogin
from shared.identity.endpoints import backchannel_logout_handler, client_jwks
from shared.identity.errors import IdentityError, IdpUnavailable, LoginRejected
from shared.identity.login import LOGIN_TTL_S, LoginOptions, parse_login_options
from shared.identity.login_cookie import PendingLoginCookie, find_pending
from shared.identity.policy import AUTHENTICATED, PUBLIC, declare
from shared.identity.wiring import Identity
from shared.platform.errors import current_trace_id, unavailable_headers
from shared.platform.logging import get_logger
from shared.platform.settings import Settings
from shared.platform.state import Injected

MAX_STATE_LENGTH = 512
TOKEN_REQUEST_MAX_BYTES = 16 * 1024

_CODE_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a SHA-256 digest, no padding
_CODE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 4.1
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

_UNKNOWN_LOGIN = "This sign-in was started in another browser, has expired or was already used"

_logger = get_logger("bff.mobile.auth")

UserAgent = Annotated[str | None, HeaderParameter(name="user-agent", required=False)]
ContentType = Annotated[str | None, HeaderParameter(name="content-type", required=False)]


class TokenResponseBody(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str
    """``Bearer`` (RFC 6750), or ``DPoP`` for tokens bound to the proof's key (RFC 9449 5)."""


class MeView(msgspec.Struct, rename="camel"):
    sub: str
    name: str | None
    email: str | None
    session_expires_in: int


class LoginPageError(Exception):
    """A browser-facing refusal, shown as a plain page; ``detail`` is our own fixed text."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


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
    return Response(
        body,
        status_code=status,
        media_type=MediaType.HTML,
        headers=unavailable_headers(NO_STORE, status),
    )


def _to_app(app: AppAuthorization, login_cookie: Cookie, **params: str) -> Redirect:
    """302 to the app's (checked) redirect URI with ``params`` and the app's ``state``; the
    browser's login cookie keeps only the attempts still pending."""
    separator = "&" if "?" in app.redirect_uri else "?"
    query = urlencode({**params, "state": app.state})
    return Redirect(
        f"{app.redirect_uri}{separator}{query}",
        status_code=302,
        headers=NO_STORE,
        cookies=[login_cookie],
    )


def login_cookie_name(settings: Settings) -> str:
    """``__Host-`` in production (Secure, Path=/, no Domain: a sibling subdomain cannot plant
    it); a plain name in dev over http, where browsers refuse ``__Host-``."""
    return "__Host-bff-mobile-login" if settings.is_prod else "bff-mobile-login"


def pending_app_logins(identity: Identity) -> PendingLoginCookie[PendingAppLogin]:
    """The codec of this browser's login cookie: the app logins it started, sealed."""
    return PendingLoginCookie(
        identity.cipher, identity.sessions.clock, PendingAppLogin, b"bff mobile login cookie"
    )


def _login_cookie(settings: Settings, value: str) -> Cookie:
    return Cookie(
        key=login_cookie_name(settings),
        value=value,
        path="/",
        max_age=LOGIN_TTL_S if value else 0,
        secure=settings.is_prod,
        httponly=True,
        samesite="lax",  # it must ride the IdP's top-level redirect back to the callback
    )


# --- GET /auth/authorize -------------------------------------------------------------------


def _single(query: MultiDict[Any], name: str) -> str | None:
    """A query parameter that must not repeat (RFC 6749 3.1): which copy wins is ambiguous."""
    values = query.getall(name, [])
    if len(values) > 1:
        raise LoginPageError(f"The parameter {name} was sent more than once")
    return values[0] if values else None


def read_app_authorization(query: MultiDict[Any], settings: Settings) -> AppAuthorization:
    """The app's request, or ``LoginPageError``: checked before anything is redirected."""
    redirect_uri = _single(query, "redirect_uri")
    if not redirect_uri or redirect_uri not in settings.mobile_redirect_uris:
        raise LoginPageError("The app's redirect_uri is not registered with this gateway")
    state = _single(query, "state")
    if not state or len(state) > MAX_STATE_LENGTH or not _VISIBLE_ASCII.fullmatch(state):
        raise LoginPageError("The app sent no usable state")
    if _single(query, "code_challenge_method") != "S256":
        raise LoginPageError("PKCE with code_challenge_method=S256 is required")
    code_challenge = _single(query, "code_challenge")
    if not code_challenge or not _CODE_CHALLENGE.fullmatch(code_challenge):
        raise LoginPageError("The code_challenge must be 43 base64url characters (S256)")
    return AppAuthorization(redirect_uri=redirect_uri, state=state, code_challenge=code_challenge)


def read_login_options(query: MultiDict[Any]) -> LoginOptions:
    """A step-up's ``prompt=login`` and ``max_age``, passed on to the IdP."""
    try:
        return parse_login_options(_single(query, "prompt"), _single(query, "max_age"))
    except ValueError as exc:
        raise LoginPageError(str(exc)) from None


@get("/auth/authorize", opt=declare(PUBLIC), summary="Start an app login in the system browser")
async def authorize(
    identity: Injected[Identity], query: QueryParams, cookies: RequestCookies
) -> Response[Any]:
    settings = identity.settings
    try:
        app = read_app_authorization(query, settings)
        options = read_login_options(query)
    except LoginPageError as exc:
        _logger.info("mobile_authorize_refused", reason=exc.detail)
        return login_error_page(exc.detail, exc.status)
    try:
        url, entry = await identity.mobile.codes.begin(app, options)
    except IdpUnavailable:
        return login_error_page("The identity provider is unavailable; try again soon", 503)
    # Parallel attempts of one browser share its cookie, so each of them can complete.
    codec = pending_app_logins(identity)
    pending = [*codec.read(cookies.get(login_cookie_name(settings))), entry]
    login_cookie = _login_cookie(settings, codec.seal(pending))
    return Redirect(url, status_code=302, headers=NO_STORE, cookies=[login_cookie])


# --- GET /auth/callback --------------------------------------------------------------------


@get(
    "/auth/callback",
    opt=declare(PUBLIC),
    summary="The identity provider's redirect back after an app login",
)
async def callback(
    identity: Injected[Identity], query: QueryParams, cookies: RequestCookies
) -> Response[Any]:
    settings = identity.settings
    codec = pending_app_logins(identity)
    try:
        idp_state, code = _single(query, "state"), _single(query, "code")
        error, iss = _single(query, "error"), _single(query, "iss")
        if not idp_state or len(idp_state) > MAX_STATE_LENGTH:
            raise LoginPageError("The sign-in response has no state")
        pending = codec.read(cookies.get(login_cookie_name(settings)))
        entry = find_pending(pending, idp_state)
        if entry is None:
            _logger.info("mobile_callback_refused", reason="no_pending_login")
            raise LoginPageError(_UNKNOWN_LOGIN)
    except LoginPageError as exc:
        return login_error_page(exc.detail, exc.status)
    # Whatever happens next, this attempt is over: the browser keeps only the others.
    remaining = _login_cookie(settings, codec.seal([e for e in pending if e is not entry]))
    app = entry.app
    if error is not None:
        _logger.info("mobile_login_refused_by_idp")
        return _to_app(
            app, remaining, error=error if error in _PASSED_IDP_ERRORS else "server_error"
        )
    try:
        result = await identity.login.complete(entry.attempt, code=code, iss=iss)
    except IdpUnavailable:
        return _to_app(app, remaining, error="temporarily_unavailable")
    except LoginRejected as exc:
        _logger.info("mobile_login_rejected", reason=exc.detail)
        return _to_app(app, remaining, error="server_error")
    return _to_app(app, remaining, code=await identity.mobile.codes.issue(app, result))


# --- POST /auth/token ----------------------------------------------------------------------


def _read_form(content_type: str | None, body: bytes) -> dict[str, str]:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "The body must be application/x-www-form-urlencoded")
    fields: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        if name in fields:
            raise OAuthError("invalid_request", f"The parameter {name} was sent more than once")
        fields[name] = value
    return fields


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise OAuthError("invalid_request", f"The parameter {name} is required")
    return value


@post(
    "/auth/token",
    opt=declare(PUBLIC),
    status_code=200,
    request_max_body_size=TOKEN_REQUEST_MAX_BYTES,
    summary="Redeem a one-time code, or rotate a refresh token (OAuth token endpoint)",
    responses=TOKEN_ENDPOINT_RESPONSES,
)
async def token(
    identity: Injected[Identity],
    body: RawBody,
    content_type: ContentType,
    user_agent: UserAgent,
    dpop: DpopProof,
    scope: Scope,
) -> Response[bytes]:
    """A DPoP proof (``htm`` POST, ``htu`` this gateway's public URL + ``/auth/token``) binds a
    new session's tokens to its key, and is needed for every refresh of a bound session."""
    del dpop  # documented by its parameter; app_request reads it with its repeats
    request = app_request(scope)
    try:
        form = _read_form(content_type, body)
        grant_type = _required(form, "grant_type")
        if grant_type == "authorization_code":
            code, verifier = _required(form, "code"), _required(form, "code_verifier")
            if not _CODE_VERIFIER.fullmatch(verifier):
                raise OAuthError("invalid_request", "The code_verifier is not a valid verifier")
            issued = await identity.mobile.redeem_code(
                code, verifier, form.get("redirect_uri"), user_agent, request
            )
        elif grant_type == "refresh_token":
            issued = await identity.mobile.rotate(_required(form, "refresh_token"), request)
        else:
            raise OAuthError("unsupported_grant_type", "Use authorization_code or refresh_token")
    except OAuthError as exc:
        return oauth_error_response(exc)
    except IdentityError as exc:
        return oauth_error_response(OAUTH_ERRORS.translate(exc))
    body_out = TokenResponseBody(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
        token_type=issued.token_type,
    )
    return Response(msgspec.json.encode(body_out), media_type=MediaType.JSON, headers=NO_STORE)


# --- logout --------------------------------------------------------------------------------


@post(
    "/auth/logout",
    opt=declare(AUTHENTICATED),
    status_code=204,
    dependencies={"mobile_session": Provide(bearer_session)},
    summary="End the app's session and revoke its IdP refresh token",
    description="A DPoP-bound session's token comes with a DPoP proof, as on /m/v1/*.",
)
async def logout(identity: Injected[Identity], mobile_session: MobileSession) -> None:
    await identity.mobile.end(mobile_session)
    _logger.info("logout", session_kind="mobile")


# --- GET /m/v1/me --------------------------------------------------------------------------


@get(
    "/me",
    opt=declare(AUTHENTICATED),
    cache_control=CacheControlHeader(no_store=True),
    summary="The logged-in user",
)
async def me(identity: Injected[Identity], mobile_session: MobileSession) -> MeView:
    """Mounted under ``/m/v1`` (bearer session and app-version gate come from the router)."""
    claims = mobile_session.claims
    return MeView(
        sub=mobile_session.sub,
        name=claims.get("name"),
        email=claims.get("email"),
        session_expires_in=identity.sessions.expires_in(mobile_session),
    )


ROUTES = [
    authorize,
    callback,
    token,
    logout,
    backchannel_logout_handler("/auth/backchannel-logout"),
    client_jwks,
]
