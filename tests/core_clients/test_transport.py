"""The HTTP client of a core service: the measured transport, no proxy, the policy's timeouts,
and what its failures become on a real loopback socket."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from httpx_aiohttp import AiohttpTransport

from core_clients.base import CallContext
from core_clients.catalog import CatalogClient
from core_clients.policy import ServicePolicy
from core_clients.transport import build_http_client
from shared.platform.errors import CoreNotFound, CoreTimeout, CoreUnavailable
from tests.core_clients.support import FAST

CTX = CallContext(access_token="user-token-123", request_id="req-0001")


def test_default_transport_is_aiohttp_and_ignores_proxy_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Production clients use the measured-faster transport and never an env proxy."""
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    http = build_http_client("http://127.0.0.1:8100/catalog", ServicePolicy())
    assert isinstance(http._transport, AiohttpTransport)
    assert http.trust_env is False
    assert http._mounts == {}


def test_the_client_times_out_as_the_policy_says() -> None:
    policy = ServicePolicy(connect_timeout=0.2, read_timeout=1.0, total_timeout=1.5)
    http = build_http_client("http://127.0.0.1:8100/catalog", policy)
    assert (http.timeout.connect, http.timeout.read, http.timeout.pool) == (0.2, 1.0, 1.5)
    assert http.follow_redirects is False


@pytest.mark.anyio
async def test_refused_connection_is_unavailable_not_timeout(unused_port: int) -> None:
    """httpx-aiohttp reports a refused connection as ConnectTimeout; we know better."""
    policy = ServicePolicy(max_attempts=1)
    async with build_http_client(f"http://127.0.0.1:{unused_port}/catalog", policy) as http:
        client = CatalogClient(http, policy)
        with pytest.raises(CoreUnavailable) as caught:
            await client.get_product("7", ctx=CTX)
    assert not isinstance(caught.value, CoreTimeout)


@pytest.mark.anyio
async def test_reset_connection_is_unavailable_and_retried() -> None:
    """A service that drops the connection is down, not slow: 503, after the retries."""
    accepted = 0

    async def drop(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        await _reader.read(1024)
        writer.close()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with build_http_client(f"http://127.0.0.1:{port}/catalog", FAST) as http:
            client = CatalogClient(http, FAST)
            with pytest.raises(CoreUnavailable) as caught:
                await client.get_product("7", ctx=CTX)
    finally:
        server.close()
        await server.wait_closed()
    assert not isinstance(caught.value, CoreTimeout)
    # aiohttp itself resends an idempotent request once on a dropped connection (RFC 9112
    # section 9.3.1, the stale keep-alive race), so each of our 3 attempts may be 2 connections.
    assert 3 <= accepted <= 6


@pytest.mark.anyio
async def test_a_cookie_one_user_was_answered_never_reaches_another_user_call() -> None:
    """The client is shared by every user: a cookie a service sets in Alice's answer (say, a
    load balancer's sticky cookie naming her backend) must not ride along on Bob's call."""
    cookies_sent: list[str | None] = []

    def service(request: httpx.Request) -> httpx.Response:
        cookies_sent.append(request.headers.get("cookie"))
        return httpx.Response(404, json={}, headers={"set-cookie": "sticky=alice; Path=/"})

    http = build_http_client(
        "http://catalog.internal/catalog", FAST, transport=httpx.MockTransport(service)
    )
    async with http:
        client = CatalogClient(http, FAST)
        for user in ("alice", "bob"):
            ctx = CallContext(access_token=f"{user}-token", request_id=f"req-{user}-0001")
            with pytest.raises(CoreNotFound):
                await client.get_product("7", ctx=ctx)
    assert cookies_sent == [None, None]
    assert len(http.cookies) == 0


@pytest.mark.anyio
async def test_a_transport_error_names_the_request_it_failed() -> None:
    """Calls go straight through the transport (``exchange``), not ``AsyncClient.send``; its
    errors still carry their request, as ``send``'s do, for whoever reads them."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    http = build_http_client(
        "http://catalog.internal/catalog", FAST, transport=httpx.MockTransport(refuse)
    )
    async with http:
        request = http.build_request("GET", "/v1/products/7")
        with pytest.raises(httpx.ConnectError) as caught:
            await http.exchange(request)
    assert caught.value.request is request


@pytest.mark.anyio
async def test_an_exchange_answers_with_its_body_read() -> None:
    http = build_http_client(
        "http://catalog.internal/catalog",
        FAST,
        transport=httpx.MockTransport(lambda _: httpx.Response(200, json={"id": "7"})),
    )
    async with http:
        request = http.build_request("GET", "/v1/products/7")
        response = await http.exchange(request)
    assert response.content == b'{"id":"7"}'
    assert response.request is request
    assert response.is_closed
