"""RFC 9126 pushed authorization requests: the authorization request goes to the IdP over the
back channel, authenticated as the client, and the browser carries only ``client_id`` and the
``request_uri`` the IdP returned. Nothing of the request (scope, redirect URI, PKCE challenge,
nonce, state) can then be read or changed in the browser's URL.

``BFF_OIDC_PAR``: ``auto`` pushes when discovery advertises the endpoint, ``always`` refuses a
provider without one, ``never`` keeps the request in the URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import msgspec

from shared.identity.dpop import NONCE_ERROR, NonceAsked
from shared.identity.errors import IdpUnavailable, OidcError
from shared.platform.settings import ParMode


class PushedRequest(msgspec.Struct, frozen=True):
    request_uri: str
    expires_in: int


class PushError(msgspec.Struct, frozen=True):
    error: str = "invalid_request"


def use_par(mode: ParMode, *, endpoint: str | None, required: bool) -> bool:
    """Whether this login pushes its request (``OidcError`` if ``always`` has no endpoint)."""
    if mode == "never":
        return False
    if endpoint is None:
        if mode == "always" or required:
            raise OidcError("the identity provider does not offer pushed authorization requests")
        return False
    return True


async def push_authorization_request(
    client: httpx.AsyncClient, *, endpoint: str, authorization_url: str, auth: Any
) -> str:
    """POST the parameters of ``authorization_url`` to ``endpoint`` with the client's ``auth``;
    returns the ``request_uri``."""
    params = dict(parse_qsl(urlsplit(authorization_url).query, keep_blank_values=True))
    try:
        response = await client.post(endpoint, data=params, auth=auth)
    except httpx.HTTPError as exc:
        raise IdpUnavailable("the identity provider is unreachable") from exc
    if response.status_code in (200, 201):
        try:
            return msgspec.json.decode(response.content, type=PushedRequest).request_uri
        except msgspec.DecodeError as exc:
            raise IdpUnavailable("the identity provider sent an unreadable PAR response") from exc
    if 400 <= response.status_code < 500:
        try:
            error = msgspec.json.decode(response.content, type=PushError).error
        except msgspec.DecodeError:
            error = "invalid_request"
        if error == NONCE_ERROR:
            raise NonceAsked()
        safe = error if error.replace("_", "").isalpha() and len(error) < 64 else "error"
        raise OidcError(f"the pushed authorization request was refused ({safe})")
    raise IdpUnavailable(f"the identity provider answered {response.status_code}")


def browser_url(authorization_endpoint: str, *, client_id: str, request_uri: str) -> str:
    """The URL the browser is sent to: only ``client_id`` and ``request_uri``."""
    separator = "&" if "?" in authorization_endpoint else "?"
    query = urlencode({"client_id": client_id, "request_uri": request_uri})
    return f"{authorization_endpoint}{separator}{query}"
