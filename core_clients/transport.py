"""The one long-lived HTTP client of a core service, and the transport under it."""

from __future__ import annotations

import ssl
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

from core_clients.policy import ServicePolicy


def default_transport(
    policy: ServicePolicy, tls: ssl.SSLContext | None = None
) -> httpx.AsyncBaseTransport:
    """httpx-aiohttp: about 4x the throughput of httpx's own pool at 64 concurrent calls on
    loopback (``docs/transport.md``). Public so telemetry can wrap it rather than rebuild it.

    ``tls`` verifies ``https://`` services (``TlsClientFiles.client_context``: the configured CA
    bundle and client certificate); without it, the system store. Verification is never off.
    ``trust_env=False``: ``SSL_CERT_FILE`` and friends do not quietly change whom we trust.
    """
    limits = httpx.Limits(
        max_connections=policy.max_connections,
        max_keepalive_connections=policy.max_connections,
    )
    return AiohttpTransport(
        verify=tls or ssl.create_default_context(), limits=limits, trust_env=False
    )


def cookie_jar_keeping_nothing() -> CookieJar:
    """The cookie jar of a client that every user's calls share: it keeps no cookie.

    httpx keeps the cookies of each answer in its client and sends them with every later
    request. A core service (or a load balancer in front of it) setting a cookie in its answer
    to Alice's call would see that cookie again on Bob's. A gateway's call carries the user's
    own credentials and nothing another call left behind.
    """
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class CoreHttpClient(httpx.AsyncClient):
    """httpx's client for a core service, which also sends a built request straight through its
    transport (``exchange``).

    ``AsyncClient.send`` wraps the transport in steps a core call has no use for: the auth flow
    (the call sets its own ``Authorization``), redirects (never followed: a 3xx is outside the
    contract), the cookie jar (``cookie_jar_keeping_nothing``), a log record and a timer per
    request. Measured on loopback, those steps cost more CPU than the transport's own round
    trip (``docs/transport.md``), and on a cold screen the second core call is sent only after
    the first one's steps have run.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, **options: Any) -> None:
        super().__init__(transport=transport, **options)
        self.transport = transport

    async def exchange(self, request: httpx.Request) -> httpx.Response:
        """The answer to ``request`` from the transport, its body read (and the connection
        given back); a transport error names the request, as ``send``'s do."""
        try:
            response = await self.transport.handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request
            raise
        response.request = request
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        return response


def build_http_client(
    base_url: str,
    policy: ServicePolicy,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    tls: ssl.SSLContext | None = None,
) -> CoreHttpClient:
    """The one long-lived client for a core service; the lifespan closes it.

    ``transport`` defaults to ``default_transport(policy, tls)``; tests pass an
    ``httpx.MockTransport``.
    ``trust_env=False``: core services are internal, a stray ``HTTP_PROXY`` must not reroute them.
    No cookie is kept (``cookie_jar_keeping_nothing``).
    """
    return CoreHttpClient(
        base_url=base_url,
        transport=transport if transport is not None else default_transport(policy, tls),
        timeout=httpx.Timeout(
            policy.read_timeout, connect=policy.connect_timeout, pool=policy.total_timeout
        ),
        headers={"Accept": "application/json"},
        follow_redirects=False,
        trust_env=False,
        cookies=cookie_jar_keeping_nothing(),
    )
