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

from shared.identity.records import SessionRecord
from shared.identity.wiring import IDENTITY
from shared.platform.rate_limits import RATE_LIMITS


async def bearer_session(
    state: State,
    authorization: Annotated[str | None, HeaderParameter(name="authorization", required=False)],
) -> SessionRecord:
    """Dependency for ``/m/v1/*`` and ``/auth/logout``: the caller's live mobile session, or
    ``NotSignedIn`` (a 401 with its bearer challenge, see ``bff_mobile.errors``).

    The identity comes from the state's slot, so a screen's dependencies resolve as one chain
    (see ``shared.screens.provider``)."""
    return await IDENTITY.get(state).mobile.session_for_bearer(authorization)


async def api_bearer_session(
    state: State,
    authorization: Annotated[str | None, HeaderParameter(name="authorization", required=False)],
) -> SessionRecord:
    """``bearer_session`` for ``/m/v1/*``, each call counted against the session's
    ``BFF_RATE_LIMIT_API`` (a 429 problem with ``Retry-After`` past it). The limits come from
    the state's slot, as the identity does, so a screen's dependencies stay one chain."""
    record = await bearer_session(state, authorization)
    await RATE_LIMITS.get(state).check_session(record.id)
    return record


MobileSession: TypeAlias = NamedDependency[SessionRecord]
"""Annotate a handler parameter ``mobile_session: MobileSession`` to get the bearer's session
(its router or handler provides ``mobile_session`` with :func:`bearer_session`)."""
