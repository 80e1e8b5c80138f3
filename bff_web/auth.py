"""The ``/bff/*`` endpoints: login, callback, user, logout, back-channel logout, sessions.

The browser only ever holds two cookies, both HttpOnly: the session cookie (an opaque random id,
``SameSite=Strict``) and, during a login, the login cookie (``SameSite=Lax``, since it must ride
the IdP's redirect back) that binds the attempt's ``state``, ``nonce`` and PKCE verifier to this
browser, sealed with AES-GCM. Several tabs may log in at once: the login cookie holds a few
pending attempts, each usable once, bounded in bytes so that a login started by another site
cannot crowd out the next one (``shared.identity.login_cookie``). The login itself is
:class:`shared.identity.login.LoginFlow`, the same as the mobile gateway's; only this hand-off
(cookies, redirects) is the web's.

Logout touches cookies only for the session it ends: a cross-site navigation to
``/bff/logout`` carries no (``SameSite=Strict``) session cookie, and answering it with an
expiring ``Set-Cookie`` would drop the victim's cookie while the session stays alive.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import delete, get, post
from litestar.datastructures import Cookie, State
from litestar.params import (
    FromPath,
    FromQuery,
    HeaderParameter,
    QueryParameter,
    RequestCookies,
)
from litestar.response import Redirect
from litestar.types import Scope

from bff_web.security import check_origin, csrf_guard, validate_return_url
from shared.identity.endpoints import backchannel_logout_handler, client_jwks
from shared.identity.errors import IdpUnavailable
from shared.identity.login import LOGIN_TTL_S, parse_login_options
from shared.identity.login_cookie import PendingLogin, PendingLoginCookie, find_pending
from shared.identity.policy import AUTHENTICATED, PUBLIC, authorize, declare
from shared.identity.records import SessionRecord
from shared.identity.sessions import CookieSessionReader, SessionManager
from shared.identity.wiring import IDENTITY, Identity
from shared.platform.errors import BadRequest, NotFound
from shared.platform.logging import get_logger
from shared.platform.redis import Rider
from shared.platform.settings import Settings
from shared.platform.state import Injected

MAX_STATE_LENGTH = 512

_logger = get_logger("bff.web.auth")

Cookies = RequestCookies
UserAgent = Annotated[str | None, HeaderParameter(name="user-agent", required=False)]
Origin = Annotated[str | None, HeaderParameter(name="origin", required=False)]


class WebPendingLogin(PendingLogin, frozen=True):
    """A login of this browser in progress, and where to go once it completes."""

    return_url: str


class UserInfo(msgspec.Struct, rename="camel"):
    claims: dict[str, Any]
    session_expires_in: int
    logout_url: str


class SessionView(msgspec.Struct, rename="camel"):
    """One session of a user, by its public id (never the session id itself)."""

    id: str
    kind: str
    created_at: float
    last_seen_at: float
    expires_at: float
    user_agent: str | None
    current: bool = False


def session_view(sessions: SessionManager, record: SessionRecord, *, current: bool) -> SessionView:
    return SessionView(
        id=sessions.public_id(record),
        kind=record.kind,
        created_at=record.created_at,
        last_seen_at=record.last_seen_at,
        expires_at=record.expires_at,
        user_agent=record.user_agent,
        current=current,
    )


def cookie_names(settings: Settings) -> tuple[str, str]:
    """``__Host-`` cookies in production (Secure, Path=/, no Domain: not settable by a sibling
    subdomain); plain names in dev over http, where browsers refuse ``__Host-``."""
    if settings.is_prod:
        return "__Host-bff", "__Host-bff-login"
    return "bff", "bff-login"


def session_reader(identity: Identity) -> CookieSessionReader:
    return CookieSessionReader(identity.sessions, cookie_names(identity.settings)[0])


async def cookie_session(state: State, cookies: Cookies, scope: Scope) -> SessionRecord:
    """Dependency for the web's private routes: the caller's live cookie session, or 401; and
    the route's declared policy checked on it (403, or 401 step-up), before anything else runs.

    It takes the identity from the state's slot, not as a dependency of its own, so that a
    screen's dependencies resolve as one chain (see ``shared.screens.provider``)."""
    return await authorized_cookie_session(state, cookies, scope)


async def authorized_cookie_session(
    state: State, cookies: Cookies, scope: Scope, rider: Rider | None = None
) -> SessionRecord:
    """``cookie_session``, with ``rider``'s commands sent in the session's read (not a
    dependency itself: a rider is no request parameter)."""
    identity = IDENTITY.get(state)
    record = await session_reader(identity).require(cookies, rider=rider)
    return authorize(record, scope["route_handler"].opt, identity.sessions.clock.time())


def _cookie(settings: Settings, key: str, value: str, *, max_age: int, lax: bool) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        path="/",
        max_age=max_age,
        secure=settings.is_prod,
        httponly=True,
        samesite="lax" if lax else "strict",
    )


# --- the login cookie ------------------------------------------------------------------------


def pending_web_logins(identity: Identity) -> PendingLoginCookie[WebPendingLogin]:
    """The codec of this browser's login cookie: the logins it started, sealed."""
    return PendingLoginCookie(
        identity.cipher, identity.sessions.clock, WebPendingLogin, b"bff login cookie"
    )


def read_pending_logins(cookies: Cookies, identity: Identity) -> list[WebPendingLogin]:
    return pending_web_logins(identity).read(cookies.get(cookie_names(identity.settings)[1]))


def login_cookie(identity: Identity, pending: list[WebPendingLogin]) -> Cookie:
    settings = identity.settings
    name = cookie_names(settings)[1]
    sealed = pending_web_logins(identity).seal(pending)
    return _cookie(settings, name, sealed, max_age=LOGIN_TTL_S if sealed else 0, lax=True)


# --- endpoints -------------------------------------------------------------------------------


@get("/bff/login", opt=declare(PUBLIC), summary="Start a login at the identity provider")
async def login(
    identity: Injected[Identity],
    cookies: Cookies,
    return_url: Annotated[str | None, QueryParameter(name="returnUrl")] = None,
    prompt: FromQuery[str | None] = None,
    max_age: FromQuery[str | None] = None,
) -> Redirect:
    """``prompt=login&max_age=N`` (a step-up's ``loginUrl``) ask the IdP for a new login."""
    target = validate_return_url(return_url)
    try:
        options = parse_login_options(prompt, max_age)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    url, attempt = await identity.login.begin(options)
    entry = WebPendingLogin(
        attempt=attempt,
        return_url=target,
        expires_at=identity.sessions.clock.time() + LOGIN_TTL_S,
    )
    pending = [*read_pending_logins(cookies, identity), entry]
    return Redirect(url, status_code=302, cookies=[login_cookie(identity, pending)])


@get(
    "/bff/callback",
    opt=declare(PUBLIC),
    summary="The identity provider's redirect back after login",
)
async def callback(
    identity: Injected[Identity],
    cookies: Cookies,
    user_agent: UserAgent,
    oauth_state: Annotated[str | None, QueryParameter(name="state")] = None,
    code: FromQuery[str | None] = None,
    error: FromQuery[str | None] = None,
    iss: FromQuery[str | None] = None,
) -> Redirect:
    state = oauth_state
    if not state or len(state) > MAX_STATE_LENGTH:
        raise BadRequest("The login response has no state")
    pending = read_pending_logins(cookies, identity)
    entry = find_pending(pending, state)
    if entry is None:
        raise BadRequest("The login response does not belong to this browser, or it expired")
    remaining = [e for e in pending if e is not entry]
    if error:
        safe_error = error if error.replace("_", "").isalpha() and len(error) < 64 else "error"
        raise BadRequest(f"The identity provider refused the login ({safe_error})")
    result = await identity.login.complete(entry.attempt, code=code, iss=iss)
    session_name = cookie_names(identity.settings)[0]
    planted = cookies.get(session_name)
    if planted:
        # A new login never keeps a previous id (fixation); a real old session just ends.
        await identity.sessions.store.delete(planted)
    record = await identity.login.open_session("web", result, user_agent=user_agent)
    settings = identity.settings
    return Redirect(
        entry.return_url,
        status_code=302,
        cookies=[
            _cookie(
                settings,
                session_name,
                record.id,
                max_age=settings.session_absolute_timeout_s,
                lax=False,
            ),
            login_cookie(identity, remaining),
        ],
    )


@get(
    "/bff/user",
    opt=declare(AUTHENTICATED),
    guards=[csrf_guard],
    summary="The logged-in user, for the SPA",
)
async def user(
    identity: Injected[Identity], cookies: Cookies, scope: Scope, slide: FromQuery[bool] = True
) -> UserInfo:
    # Reads the session itself (for ?slide=false), so it checks the route policy itself too.
    record = await session_reader(identity).require(cookies, slide=slide)
    sessions = identity.sessions
    authorize(record, scope["route_handler"].opt, sessions.clock.time())
    return UserInfo(
        claims=record.claims,
        session_expires_in=sessions.expires_in(record),
        logout_url=f"/bff/logout?sid={sessions.public_id(record)}",
    )


async def _logout_redirect(identity: Identity, record: SessionRecord | None) -> Redirect:
    """Ends ``record`` and expires its cookie; without one, only the redirect: no cookie is
    touched for a request that proved no session (a cross-site one sends none)."""
    settings = identity.settings
    target = settings.post_logout_redirect_url
    if record is None:
        return Redirect(target, status_code=302)
    id_token = await identity.sessions.end(record)
    try:
        end_session_url = await identity.oidc.end_session_url(
            id_token_hint=id_token, post_logout_redirect_uri=target
        )
    except IdpUnavailable:
        end_session_url = None
    _logger.info("logout", session_kind="web")
    expired = _cookie(settings, cookie_names(settings)[0], "", max_age=0, lax=False)
    return Redirect(end_session_url or target, status_code=302, cookies=[expired])


@get(
    "/bff/logout", opt=declare(PUBLIC), summary="Log out (link form; needs the sid from /bff/user)"
)
async def logout_link(
    identity: Injected[Identity], cookies: Cookies, sid: FromQuery[str | None] = None
) -> Redirect:
    record = await session_reader(identity).read(cookies, slide=False)
    if record is not None and (sid is None or not identity.sessions.has_public_id(record, sid)):
        raise BadRequest("The logout link does not match this session")
    return await _logout_redirect(identity, record)


@post("/bff/logout", opt=declare(PUBLIC), status_code=302, summary="Log out (form or fetch)")
async def logout_post(identity: Injected[Identity], cookies: Cookies, origin: Origin) -> Redirect:
    check_origin(origin, identity.settings)
    record = await session_reader(identity).read(cookies, slide=False)
    return await _logout_redirect(identity, record)


@get(
    "/bff/sessions",
    opt=declare(AUTHENTICATED),
    guards=[csrf_guard],
    summary="The user's sessions on every device",
)
async def list_sessions(
    identity: Injected[Identity], session: Injected[SessionRecord]
) -> list[SessionView]:
    sessions = identity.sessions
    return [
        session_view(sessions, other, current=other.id == session.id)
        for other in await sessions.list_for_user(session.sub)
    ]


@delete(
    "/bff/sessions/{public_id:str}",
    opt=declare(AUTHENTICATED),
    guards=[csrf_guard],
    summary="End one of my sessions",
)
async def end_one_session(
    identity: Injected[Identity], session: Injected[SessionRecord], public_id: FromPath[str]
) -> None:
    for other in await identity.sessions.list_for_user(session.sub):
        if identity.sessions.has_public_id(other, public_id):
            await identity.end_session(other)
            return
    raise NotFound("No such session")


ROUTES = [
    login,
    callback,
    user,
    logout_link,
    logout_post,
    backchannel_logout_handler("/bff/backchannel-logout"),
    client_jwks,
    list_sessions,
    end_one_session,
]
