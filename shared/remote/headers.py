"""Which headers cross the gateway, each way.

Towards the upstream only an allow-list: a few safe defaults (what the body is and what the
caller accepts) plus the API's ``forward_headers``; never the caller's credentials with the
gateway (``Cookie``, ``Authorization``, ``X-CSRF``), never a hop-by-hop header (RFC 9110 7.6.1,
and any the caller names in ``Connection``), never what the gateway sets itself (request id,
deadline, trace context, ``Authorization``). The settings refuse naming those in
``forward_headers``; they are filtered here again, so no declaration can let one through.

Towards the caller everything the upstream said, except: hop-by-hop headers; ``Set-Cookie``
(the upstream has no business with the caller's cookie jar on the gateway's origin);
``WWW-Authenticate`` and ``Proxy-Authenticate`` (a challenge about the gateway's token, which
the caller cannot answer, and which an app would take for its own session's end); ``Alt-Svc``
(it names the upstream's host). A ``Location`` or ``Content-Location`` under the upstream's
base URL is rewritten to the same place under the gateway's path, so a redirect neither names
an internal host nor leads the caller past the gateway.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from shared.platform.remote_api_settings import HOP_BY_HOP_HEADERS, NEVER_FORWARDED_HEADERS

DEFAULT_FORWARDED: Final = frozenset(
    {"accept", "accept-encoding", "content-type", "content-length", "content-encoding"}
)
NEVER_RETURNED: Final = HOP_BY_HOP_HEADERS | {
    "set-cookie",
    "set-cookie2",
    "www-authenticate",
    "proxy-authenticate",
    "alt-svc",
}


def named_in_connection(headers: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The header names a ``Connection`` header lists: hop-by-hop for this one message."""
    return frozenset(
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
        if token.strip()
    )


def request_headers(
    incoming: Iterable[tuple[str, str]], allowed: frozenset[str]
) -> list[tuple[str, str]]:
    """The caller's headers that go on to the upstream: in ``allowed``, and nothing else."""
    incoming = list(incoming)
    dropped = NEVER_FORWARDED_HEADERS | named_in_connection(incoming)
    return [
        (name, value)
        for name, value in incoming
        if (lower := name.lower()) in allowed and lower not in dropped
    ]


def response_headers(
    upstream: Iterable[tuple[str, str]], *, base_url: str = "", local_path: str = ""
) -> list[tuple[str, str]]:
    """The upstream's headers that go back to the caller; ``base_url`` (the upstream's) and
    ``local_path`` (the API's path at the gateway) relocate its locations."""
    upstream = list(upstream)
    dropped = NEVER_RETURNED | named_in_connection(upstream)
    return [
        (name, relocated(value, base_url, local_path) if name.lower() in _LOCATIONS else value)
        for name, value in upstream
        if name.lower() not in dropped
    ]


_LOCATIONS: Final = frozenset({"location", "content-location"})


def relocated(location: str, base_url: str, local_path: str) -> str:
    """``location`` moved from under ``base_url`` (absolute, or its path alone) to under
    ``local_path``; any other location as it is."""
    if not base_url:
        return location
    base_path = "/" + base_url.split("://", 1)[-1].partition("/")[2]
    for prefix in (base_url, base_path.rstrip("/")):
        if prefix and (location == prefix or location.startswith((prefix + "/", prefix + "?"))):
            return local_path + location[len(prefix) :]
    return location
