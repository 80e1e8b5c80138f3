"""The one long-lived HTTP client of a core service, and the transport under it."""

from __future__ import annotations

import ssl

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


def build_http_client(
    base_url: str,
    policy: ServicePolicy,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    tls: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """The one long-lived ``httpx.AsyncClient`` for a core service; the lifespan closes it.

    ``transport`` defaults to ``default_transport(policy, tls)``; tests pass an
    ``httpx.MockTransport``.
    ``trust_env=False``: core services are internal, a stray ``HTTP_PROXY`` must not reroute them.
    """
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport if transport is not None else default_transport(policy, tls),
        timeout=httpx.Timeout(
            policy.read_timeout, connect=policy.connect_timeout, pool=policy.total_timeout
        ),
        headers={"Accept": "application/json"},
        follow_redirects=False,
        trust_env=False,
    )
