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
from shared.platform.state import Injected


async def bearer_session(
    identity: Injected[Identity],
    authorization: Annotated[str | None, HeaderParameter(name="authorization", required=False)],
) -> SessionRecord:
    """Dependency for ``/m/v1/*`` and ``/auth/logout``: the caller's live mobile session, or
    ``NotSignedIn`` (a 401 with its bearer challenge, see ``bff_mobile.errors``)."""
    return await identity.mobile.session_for_bearer(authorization)


MobileSession: TypeAlias = NamedDependency[SessionRecord]
"""Annotate a handler parameter ``mobile_session: MobileSession`` to get the bearer's session
(its router or handler provides ``mobile_session`` with :func:`bearer_session`)."""
