"""Endpoints both gateways serve the same way, declared once.

Only OIDC Back-Channel Logout so far: the IdP posts a logout token to each gateway's own
receiver (each gateway is its own client), and the effect is the same on both.
"""

from __future__ import annotations

import msgspec
from litestar import Response, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import URLEncodedBody

from shared.identity.backchannel import MAX_LOGOUT_TOKEN_LENGTH
from shared.identity.policy import PUBLIC, declare
from shared.identity.wiring import Identity
from shared.platform.state import Injected


class BackchannelLogoutForm(msgspec.Struct):
    logout_token: str = ""


def backchannel_logout_handler(path: str) -> HTTPRouteHandler:
    """``POST <path>``: verify the logout token and end the sessions it names (200), or 400."""

    @post(
        path,
        opt=declare(PUBLIC),
        status_code=200,
        request_max_body_size=MAX_LOGOUT_TOKEN_LENGTH * 2,
        summary="OIDC Back-Channel Logout receiver",
    )
    async def backchannel_logout(
        identity: Injected[Identity], data: URLEncodedBody[BackchannelLogoutForm]
    ) -> Response[None]:
        await identity.backchannel.receive(data.logout_token)
        return Response(None, status_code=200, headers={"cache-control": "no-store"})

    return backchannel_logout
