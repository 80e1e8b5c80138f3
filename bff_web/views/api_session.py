"""The ``session`` of every ``/api/*`` call: the cookie session, counted against its rate.

The ``/api/*`` routes are registered under a router that provides this instead of the plain
cookie session (``bff_web.auth.cookie_session``), so ``/bff/user`` and the sessions page are
not counted, and every screen is without naming the limit itself.
"""

from __future__ import annotations

from litestar.datastructures import State
from litestar.types import Scope

from bff_web.auth import Cookies, authorized_cookie_session
from shared.identity.records import SessionRecord
from shared.screens.provider import api_session_read


async def api_session(state: State, cookies: Cookies, scope: Scope) -> SessionRecord:
    """The caller's live session (else 401) with the route's policy checked, as
    ``cookie_session`` gives it; then one request counted against ``BFF_RATE_LIMIT_API`` for it
    (a 429 problem with ``Retry-After`` past the rate), the count sent in the session read's
    round trip with the user's cache generations (``shared.cache.generations``: the screen's
    per-user entries may then come from this process). The identity and the limits come from
    the state's slots, so a screen's dependencies resolve as one chain (see
    ``shared.screens.provider``)."""
    return await api_session_read(
        state, lambda rider: authorized_cookie_session(state, cookies, scope, rider=rider)
    )
