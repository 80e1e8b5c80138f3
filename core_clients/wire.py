"""What a call to a core service is made of: who it is for, its path, its wire models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol
from urllib.parse import quote

import msgspec


class RequestAuthorization(Protocol):
    """How the user's token is presented on one HTTP request: the headers for its method and
    full URL (``Authorization``, and a ``DPoP`` proof when the token is sender-constrained),
    made again for every attempt, as a proof is good for one request. ``nonce`` is the
    resource server's latest ``DPoP-Nonce``. The identity layer fills it in
    (``shared.identity.dpop.BoundToken``); the clients only call it."""

    def headers(self, method: str, url: str, *, nonce: str | None = None) -> Mapping[str, str]: ...


class CallContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who a call is made for: the user's access token and the request it serves.

    ``authorization`` presents the token when set (DPoP-bound tokens need a proof per request);
    otherwise ``access_token`` goes as ``Bearer``."""

    access_token: str | None = None
    request_id: str | None = None
    authorization: RequestAuthorization | None = None


class WireStruct(msgspec.Struct, rename="camel", frozen=True):
    """Base of the wire models: camelCase on the wire, unknown fields ignored, immutable.

    Immutable because decoded products are cached and shared between requests. Subclasses repeat
    ``frozen=True``: msgspec inherits it anyway, mypy only believes what it reads on the class.
    """


class Money(WireStruct, frozen=True):
    amount_minor: int
    currency: str


def path_segment(value: str) -> str:
    """``value`` as one URL path segment: ``/``, ``?``, ``#`` and ``@`` are escaped.

    ``.`` and ``..`` are escaped too, or URL normalisation would climb out of the route.
    """
    if not value:
        raise ValueError("a path segment must not be empty")
    if value.strip(".") == "":
        return "%2E" * len(value)
    return quote(value, safe="")
