"""Endpoints both gateways serve the same way, declared once.

OIDC Back-Channel Logout: the IdP posts a logout token to each gateway's own receiver (each
gateway is its own client), and the effect is the same on both. ``/.well-known/jwks.json``: the
public keys of the client's ``private_key_jwt`` key (current and previous), for an IdP that
registers the client by ``jwks_uri``; public, as any JWKS is.
"""

from __future__ import annotations

import msgspec
from litestar import Response, get, post
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


JWKS_PATH = "/.well-known/jwks.json"
JWKS_MAX_AGE_S = 300
"""IdPs cache the document; a rotation publishes the new key long before it signs anything."""


class JsonWebKeySet(msgspec.Struct):
    """RFC 7517 section 5: public keys only (``kty``, ``kid``, ``use``, ``alg`` and the public
    parameters of each)."""

    keys: list[dict[str, str]]


@get(
    JWKS_PATH,
    opt=declare(PUBLIC),
    summary="The client's public keys (private_key_jwt), for the IdP's jwks_uri",
)
async def client_jwks(identity: Injected[Identity]) -> Response[JsonWebKeySet]:
    """Only public members: ``ClientAuthentication.public_jwks`` exports no private one."""
    document = identity.oidc.client_auth.public_jwks()
    return Response(
        msgspec.convert(document, JsonWebKeySet),
        headers={"cache-control": f"public, max-age={JWKS_MAX_AGE_S}"},
    )
