"""The bearer reader for the app's API: ``Authorization: Bearer <opaque access token>``.

The tokens themselves (issuing, rotation with reuse detection, lookup) are the identity layer's
:class:`shared.identity.mobile_tokens.MobileTokenHandler`; this is only how a handler asks for
the caller's session.
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

from litestar.di import NamedDependency
from litestar.params import HeaderParameter

from shared.identity.records import SessionRecord
from shared.identity.wiring import Identity
from shared.platform.rate_limits import RateLimits
from shared.platform.state import Injected


async def bearer_session(
    identity: Injected[Identity],
    authorization: Annotated[str | None, HeaderParameter(name="authorization", required=False)],
) -> SessionRecord:
    """Dependency for ``/m/v1/*`` and ``/auth/logout``: the caller's live mobile session, or
    ``NotSignedIn`` (a 401 with its bearer challenge, see ``bff_mobile.errors``)."""
    return await identity.mobile.session_for_bearer(authorization)


async def api_bearer_session(
    identity: Injected[Identity],
    rate_limits: Injected[RateLimits],
    authorization: Annotated[str | None, HeaderParameter(name="authorization", required=False)],
) -> SessionRecord:
    """``bearer_session`` for ``/m/v1/*``, each call counted against the session's
    ``BFF_RATE_LIMIT_API`` (a 429 problem with ``Retry-After`` past it)."""
    record = await bearer_session(identity, authorization)
    await rate_limits.check_session(record.id)
    return record


MobileSession: TypeAlias = NamedDependency[SessionRecord]
"""Annotate a handler parameter ``mobile_session: MobileSession`` to get the bearer's session
(its router or handler provides ``mobile_session`` with :func:`bearer_session`)."""
