"""The token reader for the app's API: ``Authorization: Bearer <opaque access token>``, or
``Authorization: DPoP <token>`` with a ``DPoP`` proof for a sender-constrained session.

The tokens themselves (issuing, rotation with reuse detection, lookup, DPoP binding) are the
identity layer's :class:`shared.identity.mobile_tokens.MobileTokenHandler`; this is only how a
handler asks for the caller's session, and how an app request's proof reaches that layer.
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import HeaderParameter
from litestar.types import Scope

from shared.identity.app_proofs import AppRequest
from shared.identity.policy import authorize
from shared.identity.records import SessionRecord
from shared.identity.wiring import IDENTITY
from shared.platform.redis import Rider
from shared.screens.provider import api_session_read

_DPOP_HEADER = b"dpop"

DpopProof = Annotated[
    str | None,
    HeaderParameter(
        name="dpop",
        required=False,
        description=(
            "A DPoP proof (RFC 9449) for this request, signed with the key the app's tokens"
            " are bound to; required with 'Authorization: DPoP <token>'"
        ),
    ),
]
"""Declared for the OpenAPI document; the value is read from the scope with its repeats."""


def app_request(scope: Scope) -> AppRequest:
    """The request as the proof check sees it: method, path as sent, every ``DPoP`` header.
    The URL a proof must name is the gateway's public URL plus this path (never the Host
    header), see ``shared.identity.app_proofs``."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    proofs = tuple(
        value.decode("latin-1") for name, value in scope["headers"] if name == _DPOP_HEADER
    )
    return AppRequest(method=str(scope.get("method", "GET")), path=path, proofs=proofs)


async def bearer_session(
    state: State,
    authorization: Annotated[str | None, HeaderParameter(name="authorization", required=False)],
    dpop: DpopProof,
    scope: Scope,
) -> SessionRecord:
    """Dependency for ``/m/v1/*`` and ``/auth/logout``: the caller's live mobile session, or
    ``NotSignedIn`` (a 401 with its Bearer or DPoP challenge, see ``bff_mobile.errors``); the
    route's declared policy is checked on it before anything else runs
    (``shared.identity.policy``).

    The identity comes from the state's slot, and the DPoP proof from the scope, so a screen's
    dependencies resolve as one chain (see ``shared.screens.provider``)."""
    del dpop  # documented by its parameter; app_request reads it with its repeats
    return await authorized_bearer_session(state, authorization, scope)


async def authorized_bearer_session(
    state: State, authorization: str | None, scope: Scope, rider: Rider | None = None
) -> SessionRecord:
    """``bearer_session``, with ``rider``'s commands sent in the session's read (not a
    dependency itself: a rider is no request parameter)."""
    identity = IDENTITY.get(state)
    record = await identity.mobile.session_for_access(authorization, app_request(scope), rider)
    return authorize(record, scope["route_handler"].opt, identity.sessions.clock.time())


async def api_bearer_session(
    state: State,
    authorization: Annotated[str | None, HeaderParameter(name="authorization", required=False)],
    dpop: DpopProof,
    scope: Scope,
) -> SessionRecord:
    """``bearer_session`` for ``/m/v1/*``, each call counted against the session's
    ``BFF_RATE_LIMIT_API`` (a 429 problem with ``Retry-After`` past it), the count sent in the
    session read's round trip with the user's cache generations (``api_session_read``). The
    limits come from the state's slot, as the identity does, so a screen's dependencies stay
    one chain."""
    del dpop  # as in bearer_session
    return await api_session_read(
        state, lambda rider: authorized_bearer_session(state, authorization, scope, rider=rider)
    )


MobileSession: TypeAlias = NamedDependency[SessionRecord]
"""Annotate a handler parameter ``mobile_session: MobileSession`` to get the bearer's session
(its router or handler provides ``mobile_session`` with :func:`bearer_session`)."""
