"""The bearer reader for the app's API: ``Authorization: Bearer <opaque access token>``.

The tokens themselves (issuing, rotation with reuse detection, lookup) are the identity layer's
:class:`shared.identity.mobile_tokens.MobileTokenHandler`; this is only how a handler asks for
the caller's session.
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import HeaderParameter
from litestar.types import Scope

from shared.identity.policy import authorize
from shared.identity.records import SessionRecord
from shared.identity.wiring import IDENTITY


async def bearer_session(
    state: State,
    authorization: Annotated[str | None, HeaderParameter(name="authorization", required=False)],
    scope: Scope,
) -> SessionRecord:
    """Dependency for ``/m/v1/*`` and ``/auth/logout``: the caller's live mobile session, or
    ``NotSignedIn`` (a 401 with its bearer challenge, see ``bff_mobile.errors``); the route's
    declared policy is checked on it before anything else runs (``shared.identity.policy``).

    The identity comes from the state's slot, so a screen's dependencies resolve as one chain
    (see ``shared.screens.provider``)."""
    identity = IDENTITY.get(state)
    record = await identity.mobile.session_for_bearer(authorization)
    return authorize(record, scope["route_handler"].opt, identity.sessions.clock.time())


MobileSession: TypeAlias = NamedDependency[SessionRecord]
"""Annotate a handler parameter ``mobile_session: MobileSession`` to get the bearer's session
(its router or handler provides ``mobile_session`` with :func:`bearer_session`)."""
