"""Support staff's routes: a user's sessions, listed and ended (``/api/admin/users/{sub}``).

Both need the role ``BFF_AUTHZ_SUPPORT_ROLE`` and a login within ``BFF_AUTHZ_STEP_UP_MAX_AGE``
seconds (``shared.identity.policy``): a user without the role gets a 403, one whose login is
older a 401 step-up problem whose ``loginUrl`` starts a fresh login.

Ending a user's sessions ends every web and mobile session at once, on every instance (they
share the session store), and revokes their IdP refresh tokens. Every action writes one
``audit`` log event: who did it (the actor's ``sub``), what, to whom, how many sessions, and
the request's trace id — never a token or a session id.
"""

from __future__ import annotations

import msgspec
from litestar import delete, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from bff_web.auth import SessionView, session_view
from shared.identity.policy import declare, requires
from shared.identity.records import SessionRecord
from shared.identity.wiring import Identity
from shared.platform.errors import BadRequest, current_trace_id
from shared.platform.logging import get_logger
from shared.platform.settings import AuthzSettings
from shared.platform.state import Injected

ADMIN_USER_SESSIONS_PATH = "/api/admin/users/{sub:str}/sessions"
MAX_SUB_LENGTH = 255

_audit = get_logger("bff.audit")


class EndedSessions(msgspec.Struct):
    ended: int


def _target(sub: str) -> str:
    if not sub or len(sub) > MAX_SUB_LENGTH or not sub.isprintable():
        raise BadRequest("The user id is not valid")
    return sub


def audit(actor: SessionRecord, action: str, target_sub: str, count: int) -> None:
    """One ``audit`` event, with the request's trace id (the one in problem bodies and
    ``X-Trace-Id``), so that a support ticket leads to it."""
    _audit.info(
        "audit",
        actor_sub=actor.sub,
        action=action,
        target_sub=target_sub,
        count=count,
        trace_id=current_trace_id(),
    )


def admin_routes(authz: AuthzSettings) -> list[HTTPRouteHandler]:
    """The admin routes, with the role and login age of this gateway's settings."""
    support = declare(requires(roles=[authz.support_role], max_auth_age_s=authz.step_up_max_age_s))

    @get(
        ADMIN_USER_SESSIONS_PATH,
        opt=support,
        summary="Support: a user's sessions on every device",
    )
    async def list_user_sessions(
        identity: Injected[Identity], session: Injected[SessionRecord], sub: FromPath[str]
    ) -> list[SessionView]:
        records = await identity.sessions.list_for_user(_target(sub))
        audit(session, "user_sessions.list", sub, len(records))
        return [session_view(identity.sessions, record, current=False) for record in records]

    @delete(
        ADMIN_USER_SESSIONS_PATH,
        opt=support,
        status_code=200,
        summary="Support: end every session of a user (web and mobile)",
    )
    async def end_user_sessions(
        identity: Injected[Identity], session: Injected[SessionRecord], sub: FromPath[str]
    ) -> EndedSessions:
        count = await identity.end_every_session_of(_target(sub))
        audit(session, "user_sessions.end", sub, count)
        return EndedSessions(ended=count)

    return [list_user_sessions, end_user_sessions]
