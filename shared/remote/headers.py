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
(it names the upstream's host).
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


def response_headers(upstream: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The upstream's headers that go back to the caller."""
    upstream = list(upstream)
    dropped = NEVER_RETURNED | named_in_connection(upstream)
    return [(name, value) for name, value in upstream if name.lower() not in dropped]
