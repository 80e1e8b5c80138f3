"""The ``screen`` dependency: a screen handler names ``screen: Screen`` and gets the caller's
screen opened, instead of reading the request or the application state.

Each gateway registers the provider for its session dependency::

    web:     dependencies={"screen": Provide(screen_for_session), ...}         (cookie session)
    mobile:  Router("/m/v1", dependencies={"screen": Provide(screen_for_mobile_session), ...})

Both open the screen the same way (``open_screen_for``): the deadline starts, the IdP token is
refreshed inside it when due. No session is a 401 problem, from the session dependency, before
anything else runs.

The providers take the application state's typed slots (identity, core data, settings) rather
than one dependency each: Litestar resolves the dependencies of one level concurrently, in a task
group with a task each, and a cached screen paid for those tasks on every request. With the
session as the only dependency, the chain session -> screen resolves without a task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.types import Scope

from core_clients.wiring import CORE
from shared.identity.records import SessionRecord
from shared.identity.wiring import IDENTITY
from shared.platform.plugin import CLOCK, SETTINGS, provide_request_id
from shared.platform.rate_limits import RATE_LIMITS
from shared.platform.redis import Rider, ride_together
from shared.screens.context import Screen, open_screen_for

__all__ = ["api_session_read", "screen_for_mobile_session", "screen_for_session"]


async def screen_for_session(
    session: NamedDependency[SessionRecord], state: State, scope: Scope
) -> Screen:
    """The web gateway's ``screen``, for its cookie session (the ``session`` dependency)."""
    return await _open(session, state, scope)


async def screen_for_mobile_session(
    mobile_session: NamedDependency[SessionRecord], state: State, scope: Scope
) -> Screen:
    """The mobile gateway's ``screen``, for the app's bearer session (``mobile_session``)."""
    return await _open(mobile_session, state, scope)


async def _open(session: SessionRecord, state: State, scope: Scope) -> Screen:
    return await open_screen_for(
        IDENTITY.get(state).tokens,
        session,
        CORE.get(state),
        deadline_s=SETTINGS.get(state).screen_deadline_s,
        request_id=provide_request_id(scope),
        clock=CLOCK.get(state),
    )


async def api_session_read(
    state: State, read: Callable[[Rider | None], Awaitable[SessionRecord]]
) -> SessionRecord:
    """An API call's session, read by ``read`` (the cookie's or the bearer's) with two riders in
    its round trip: the call's count under ``BFF_RATE_LIMIT_API`` (a 429 past it, checked
    here) and the user's cache generations (``shared.cache.generations``: the screen's
    per-user entries may then come from this process)."""
    limits = RATE_LIMITS.get(state)
    hit = limits.session_hit()
    generations = CORE.get(state).cache.generations_rider()
    record = await read(ride_together(hit, generations))
    if generations is not None:
        generations.learn(record.sub)
    await limits.check_session(record.id, hit=hit)
    return record
