"""The ``/bff/*`` endpoints: login, callback, user, logout, back-channel logout, sessions.

The browser only ever holds two cookies, both HttpOnly: the session cookie (an opaque random id,
``SameSite=Strict``) and, during a login, the login cookie (``SameSite=Lax``, since it must ride
the IdP's redirect back) that binds ``state``, ``nonce`` and the PKCE verifier to this browser,
sealed with AES-GCM. Several tabs may log in at once: the login cookie holds a few pending
attempts, each usable once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect

from bff_web.security import check_origin, csrf_guard, validate_return_url
from shared.identity.oidc import IdpUnavailable, OidcError
from shared.identity.records import SessionRecord
from shared.identity.wiring import Identity, public_session_id, shown_claims
from shared.platform.crypto import DecryptionError, new_opaque_id
from shared.platform.errors import BadRequest, NotFound, NotReady, Unauthenticated
from shared.platform.logging import get_logger

LOGIN_TTL_S = 600
MAX_PENDING_LOGINS = 5
_LOGIN_COOKIE_AD = b"bff login cookie\x00"

_logger = get_logger("bff.web.auth")


class PendingLogin(msgspec.Struct, frozen=True):
    state: str
    nonce: str
    code_verifier: str
    return_url: str
    expires_at: float


class UserInfo(msgspec.Struct, rename="camel"):
    claims: dict[str, Any]
    session_expires_in: int
    logout_url: str


class SessionView(msgspec.Struct, rename="camel"):
    id: str
    kind: str
    created_at: float
    last_seen_at: float
    expires_at: float
    user_agent: str | None
    current: bool


class BackchannelLogoutForm(msgspec.Struct):
    logout_token: str = ""


def identity_of(request: Request[Any, Any, Any]) -> Identity:
    identity: Identity = request.app.state.identity
    return identity


def cookie_names(identity: Identity) -> tuple[str, str]:
    """``__Host-`` cookies in production (Secure, Path=/, no Domain: not settable by a sibling
    subdomain); plain names in dev over http, where browsers refuse ``__Host-``."""
    if identity.settings.is_prod:
        return "__Host-bff", "__Host-bff-login"
    return "bff", "bff-login"


def _cookie(identity: Identity, key: str, value: str, *, max_age: int, same_site: str) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        path="/",
        max_age=max_age,
        secure=identity.settings.is_prod,
        httponly=True,
        samesite=same_site,  # type: ignore[arg-type]
    )


def _expired_cookie(identity: Identity, key: str, same_site: str = "strict") -> Cookie:
    return _cookie(identity, key, "", max_age=0, same_site=same_site)


# --- the login cookie ------------------------------------------------------------------------


def read_pending_logins(request: Request[Any, Any, Any], identity: Identity) -> list[PendingLogin]:
    sealed = request.cookies.get(cookie_names(identity)[1])
    if not sealed:
        return []
    try:
        plain = identity.cipher.decrypt(sealed, _LOGIN_COOKIE_AD)
        pending = msgspec.msgpack.decode(plain, type=list[PendingLogin])
    except (DecryptionError, msgspec.DecodeError):
        return []
    now = time.time()
    return [entry for entry in pending if entry.expires_at > now]


def login_cookie(identity: Identity, pending: list[PendingLogin]) -> Cookie:
    name = cookie_names(identity)[1]
    if not pending:
        return _expired_cookie(identity, name, "lax")
    sealed = identity.cipher.encrypt(msgspec.msgpack.encode(pending), _LOGIN_COOKIE_AD)
    return _cookie(identity, name, sealed, max_age=LOGIN_TTL_S, same_site="lax")


# --- endpoints -------------------------------------------------------------------------------


@get("/bff/login", summary="Start a login at the identity provider")
async def login(
    request: Request[Any, Any, Any],
    return_url: Annotated[str | None, QueryParameter(name="returnUrl")] = None,
) -> Redirect:
    identity = identity_of(request)
    target = validate_return_url(return_url)
    entry = PendingLogin(
        state=new_opaque_id(),
        nonce=new_opaque_id(),
        code_verifier=secrets.token_urlsafe(48),
        return_url=target,
        expires_at=time.time() + LOGIN_TTL_S,
    )
    try:
        url = await identity.oidc.authorization_url(
            state=entry.state, nonce=entry.nonce, code_verifier=entry.code_verifier
        )
    except IdpUnavailable:
        raise NotReady("The identity provider is unavailable") from None
    pending = [*read_pending_logins(request, identity), entry][-MAX_PENDING_LOGINS:]
    return Redirect(url, status_code=302, cookies=[login_cookie(identity, pending)])


def _take_pending(pending: list[PendingLogin], state: str) -> PendingLogin | None:
    for entry in pending:
        if hmac.compare_digest(entry.state.encode(), state.encode()):
            return entry
    return None


@get("/bff/callback", summary="The identity provider's redirect back after login")
async def callback(
    request: Request[Any, Any, Any],
    oauth_state: Annotated[str | None, QueryParameter(name="state")] = None,
    code: FromQuery[str | None] = None,
    error: FromQuery[str | None] = None,
    iss: FromQuery[str | None] = None,
) -> Redirect:
    identity = identity_of(request)
    state = oauth_state
    if not state or len(state) > 512:
        raise BadRequest("The login response has no state")
    pending = read_pending_logins(request, identity)
    entry = _take_pending(pending, state)
    if entry is None:
        raise BadRequest("The login response does not belong to this browser, or it expired")
    state_key = "login-state:" + hashlib.sha256(state.encode()).hexdigest()
    if not await identity.sessions.remember_once(state_key, LOGIN_TTL_S * 2):
        raise BadRequest("This login response was already used")
    remaining = [e for e in pending if e is not entry]
    if error:
        safe_error = error if error.replace("_", "").isalpha() and len(error) < 64 else "error"
        raise BadRequest(f"The identity provider refused the login ({safe_error})")
    try:
        tokens, claims = await identity.complete_login(
            code=code, iss=iss, code_verifier=entry.code_verifier, nonce=entry.nonce
        )
    except IdpUnavailable:
        raise NotReady("The identity provider is unavailable") from None
    except OidcError as exc:
        _logger.info("login_rejected", reason=exc.reason)
        raise BadRequest(f"The login response was rejected: {exc.reason}") from None

    now = time.time()
    sessions = identity.sessions
    session_name = cookie_names(identity)[0]
    planted = request.cookies.get(session_name)
    if planted:
        # A new login never keeps a previous id (fixation); a real old session just ends.
        await sessions.delete(planted)
    record = sessions.new_record(
        kind="web",
        sub=str(claims["sub"]),
        tokens=tokens,
        claims=shown_claims(claims),
        idle_timeout=identity.settings.session_idle_timeout_s,
        absolute_timeout=identity.settings.session_absolute_timeout_s,
        idp_sid=str(claims["sid"]) if claims.get("sid") else None,
        user_agent=(request.headers.get("user-agent") or "")[:256] or None,
        now=now,
    )
    await sessions.create(record)
    _logger.info("login_succeeded", session_kind="web")
    return Redirect(
        entry.return_url,
        status_code=302,
        cookies=[
            _cookie(
                identity,
                session_name,
                record.id,
                max_age=identity.settings.session_absolute_timeout_s,
                same_site="strict",
            ),
            login_cookie(identity, remaining),
        ],
    )


async def current_session(request: Request[Any, Any, Any], *, slide: bool = True) -> SessionRecord:
    """The caller's live session, or a 401 problem."""
    identity = identity_of(request)
    record = await identity.live_session(
        request.cookies.get(cookie_names(identity)[0]), slide=slide
    )
    if record is None:
        raise Unauthenticated("Not logged in")
    return record


async def cookie_session(request: Request[Any, Any, Any]) -> SessionRecord:
    """Dependency for the web's private routes: the caller's live cookie session, or 401."""
    return await current_session(request)


@get("/bff/user", guards=[csrf_guard], summary="The logged-in user, for the SPA")
async def user(request: Request[Any, Any, Any], slide: FromQuery[bool] = True) -> UserInfo:
    identity = identity_of(request)
    record = await current_session(request, slide=slide)
    now = time.time()
    expires_at = (
        min(now + identity.settings.session_idle_timeout_s, record.absolute_expires_at)
        if slide
        else record.expires_at
    )
    return UserInfo(
        claims=record.claims,
        session_expires_in=max(0, int(expires_at - now)),
        logout_url=f"/bff/logout?sid={public_session_id(record.id)}",
    )


async def _logout_redirect(
    request: Request[Any, Any, Any], record: SessionRecord | None
) -> Redirect:
    identity = identity_of(request)
    target = identity.settings.post_logout_redirect_url
    if record is not None:
        id_token = await identity.end_session(record)
        try:
            end_session_url = await identity.oidc.end_session_url(
                id_token_hint=id_token, post_logout_redirect_uri=target
            )
        except IdpUnavailable:
            end_session_url = None
        target = end_session_url or target
        _logger.info("logout", session_kind="web")
    return Redirect(
        target,
        status_code=302,
        cookies=[_expired_cookie(identity, cookie_names(identity)[0])],
    )


@get("/bff/logout", summary="Log out (link form; needs the sid from /bff/user)")
async def logout_link(
    request: Request[Any, Any, Any], sid: FromQuery[str | None] = None
) -> Redirect:
    identity = identity_of(request)
    record = await identity.live_session(
        request.cookies.get(cookie_names(identity)[0]), slide=False
    )
    if record is not None and (
        sid is None or not hmac.compare_digest(sid.encode(), public_session_id(record.id).encode())
    ):
        raise BadRequest("The logout link does not match this session")
    return await _logout_redirect(request, record)


@post("/bff/logout", status_code=302, summary="Log out (form or fetch)")
async def logout_post(request: Request[Any, Any, Any]) -> Redirect:
    identity = identity_of(request)
    check_origin(request.headers.get("origin"), identity.settings)
    record = await identity.live_session(
        request.cookies.get(cookie_names(identity)[0]), slide=False
    )
    return await _logout_redirect(request, record)


@post("/bff/backchannel-logout", status_code=200, summary="OIDC Back-Channel Logout receiver")
async def backchannel_logout(
    request: Request[Any, Any, Any],
    data: URLEncodedBody[BackchannelLogoutForm],
) -> Response[None]:
    await identity_of(request).backchannel_logout(data.logout_token)
    return Response(None, status_code=200, headers={"cache-control": "no-store"})


@get("/bff/sessions", guards=[csrf_guard], summary="The user's sessions on every device")
async def list_sessions(request: Request[Any, Any, Any]) -> list[SessionView]:
    identity = identity_of(request)
    record = await current_session(request)
    return [
        SessionView(
            id=public_session_id(other.id),
            kind=other.kind,
            created_at=other.created_at,
            last_seen_at=other.last_seen_at,
            expires_at=other.expires_at,
            user_agent=other.user_agent,
            current=other.id == record.id,
        )
        for other in await identity.sessions.list_for_user(record.sub)
    ]


@delete("/bff/sessions/{public_id:str}", guards=[csrf_guard], summary="End one of my sessions")
async def end_one_session(request: Request[Any, Any, Any], public_id: FromPath[str]) -> None:
    identity = identity_of(request)
    record = await current_session(request)
    for other in await identity.sessions.list_for_user(record.sub):
        if hmac.compare_digest(public_session_id(other.id).encode(), public_id.encode()):
            await identity.end_session(other)
            return
    raise NotFound("No such session")


ROUTES = [
    login,
    callback,
    user,
    logout_link,
    logout_post,
    backchannel_logout,
    list_sessions,
    end_one_session,
]
