"""The ``screen`` dependency: a screen handler names ``screen: Screen`` and gets the caller's
screen opened, instead of reading the request or the application state.

Each gateway registers the provider for its session dependency::

    web:     dependencies={"screen": Provide(screen_for_session), ...}         (cookie session)
    mobile:  Router("/m/v1", dependencies={"screen": Provide(screen_for_mobile_session), ...})

Both open the screen the same way (``open_screen_for``): the deadline starts, the IdP token is
refreshed inside it when due. No session is a 401 problem, from the session dependency, before
anything else runs.
"""

from __future__ import annotations

from litestar.di import NamedDependency

from core_clients.data import CoreData
from shared.identity.records import SessionRecord
from shared.identity.wiring import Identity
from shared.platform.settings import Settings
from shared.screens.context import Screen, open_screen_for

__all__ = ["screen_for_mobile_session", "screen_for_session"]


async def screen_for_session(
    session: NamedDependency[SessionRecord],
    identity: NamedDependency[Identity],
    core: NamedDependency[CoreData],
    settings: NamedDependency[Settings],
    request_id: NamedDependency[str],
) -> Screen:
    """The web gateway's ``screen``, for its cookie session (the ``session`` dependency)."""
    return await open_screen_for(
        identity.tokens,
        session,
        core,
        deadline_s=settings.screen_deadline_s,
        request_id=request_id,
    )


async def screen_for_mobile_session(
    mobile_session: NamedDependency[SessionRecord],
    identity: NamedDependency[Identity],
    core: NamedDependency[CoreData],
    settings: NamedDependency[Settings],
    request_id: NamedDependency[str],
) -> Screen:
    """The mobile gateway's ``screen``, for the app's bearer session (``mobile_session``)."""
    return await screen_for_session(mobile_session, identity, core, settings, request_id)
