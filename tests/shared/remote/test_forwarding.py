"""One remote API's call path, over a recording transport: bodies stream both ways without the
gateway ever holding them (measured with tracemalloc), retries only where a request can be sent
again, the deadline and timeout, the breaker, and every failure without an answer as its own
error."""

from __future__ import annotations

import asyncio
import ssl
import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from shared.identity.dpop import BoundToken, DpopKey, verify_proof
from shared.platform.deadline import Deadline, deadline_scope
from shared.platform.remote_api_settings import RemoteApiSettings
from shared.remote.errors import (
    RemoteApiBadGateway,
    RemoteApiBreakerOpen,
    RemoteApiTimeout,
    RemoteApiUnavailable,
)
from shared.remote.forwarding import OutgoingCall, RemoteApi, policy_for
from shared.remote.wiring import remote_http_client
from tests.fixtures.clock import FakeClock

pytestmark = pytest.mark.anyio

TWENTY_MB = 20 * 1024 * 1024
CHUNK = 64 * 1024
FLAT_BYTES = 2 * 1024 * 1024
"""Well under a tenth of the 20 MB that crosses: what "memory stays flat" means here."""

Answer = Callable[[httpx.Request], httpx.Response]


class StreamingTransport(httpx.AsyncBaseTransport):
    """An upstream that reads the request body chunk by chunk (counting, not keeping it) and
    answers with ``answer``; ``failures`` are raised first, one per attempt."""

    def __init__(self, answer: Answer, failures: list[Exception] | None = None) -> None:
        self.answer = answer
        self.failures = list(failures or [])
        self.requests: list[httpx.Request] = []
        self.body_lengths: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failures:
            raise self.failures.pop(0)
        length = 0
        assert isinstance(request.stream, httpx.AsyncByteStream)
        async for chunk in request.stream:
            length += len(chunk)
        self.body_lengths.append(length)
        return self.answer(request)


class Zeros(httpx.AsyncByteStream):
    """A body sent as a network transport sends it: chunk by chunk, never whole."""

    def __init__(self, size: int, fill: bytes = b"\0") -> None:
        self.size = size
        self.fill = fill

    async def __aiter__(self) -> AsyncIterator[bytes]:
        left = self.size
        while left > 0:
            piece = min(CHUNK, left)
            left -= piece
            yield self.fill * piece


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


def declared(**overrides: Any) -> RemoteApiSettings:
    options: dict[str, Any] = {
        "name": "reviews",
        "path": "/api/remote/reviews",
        "upstream": "http://reviews.internal/v1",
        **overrides,
    }
    return RemoteApiSettings(**options)


CLOCK = FakeClock()


def remote_api(transport: httpx.AsyncBaseTransport, **overrides: Any) -> RemoteApi:
    http = httpx.AsyncClient(transport=transport)
    return RemoteApi(declared(**overrides), http, clock=FakeClock())


def call(
    method: str = "GET", body: AsyncIterator[bytes] | None = None, **fields: Any
) -> OutgoingCall:
    options: dict[str, Any] = {
        "method": method,
        "path": "/items/7",
        "query": b"q=1",
        "headers": [],
        "body": body,
        "authorization": BoundToken("user-token", None, CLOCK),
        "request_id": "req-1",
        **fields,
    }
    return OutgoingCall(**options)


async def upload(size: int) -> AsyncIterator[bytes]:
    left = size
    while left > 0:
        piece = min(CHUNK, left)
        left -= piece
        yield bytes(piece)


async def test_an_upload_streams_through_without_the_gateway_holding_it() -> None:
    transport = StreamingTransport(ok)
    api = remote_api(transport)
    tracemalloc.start()
    try:
        answer = await api.forward(call("POST", upload(TWENTY_MB)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    await answer.close()
    assert transport.body_lengths == [TWENTY_MB]
    assert peak < FLAT_BYTES


async def test_a_download_streams_through_without_the_gateway_holding_it() -> None:
    api = remote_api(StreamingTransport(lambda _: httpx.Response(200, stream=Zeros(TWENTY_MB))))
    tracemalloc.start()
    try:
        answer = await api.forward(call())
        received = 0
        async for chunk in answer.body:
            received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == TWENTY_MB
    assert peak < FLAT_BYTES


async def test_the_request_carries_the_path_query_token_request_id_and_deadline() -> None:
    transport = StreamingTransport(ok)
    api = remote_api(transport, forward_headers=("accept-language",))
    headers = [
        ("Accept", "application/json"),
        ("Accept-Language", "fr"),
        ("Cookie", "bff=session-id"),
        ("X-CSRF", "1"),
        ("Authorization", "Bearer the-callers-own"),
        ("Connection", "x-private"),
        ("X-Private", "1"),
        ("Referer", "https://shop.example/secret-page"),
    ]
    answer = await api.forward(call(headers=headers))
    await answer.close()
    (sent,) = transport.requests
    assert str(sent.url) == "http://reviews.internal/v1/items/7?q=1"
    assert sent.headers["authorization"] == "Bearer user-token"
    assert sent.headers["x-request-id"] == "req-1"
    assert 0 < int(sent.headers["x-deadline-ms"]) <= 5000
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["accept-language"] == "fr"
    assert sent.headers["accept-encoding"] == "identity"  # the caller asked for no encoding
    for never in ("cookie", "x-csrf", "x-private", "referer"):
        assert never not in sent.headers
    assert sent.headers.get_list("authorization") == ["Bearer user-token"]


async def test_the_answer_keeps_its_status_but_not_its_cookies_or_hop_by_hop_headers() -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(
            418,
            headers=[
                ("Set-Cookie", "upstream=1"),
                ("Connection", "x-hop"),
                ("X-Hop", "1"),
                ("Keep-Alive", "timeout=5"),
                ("WWW-Authenticate", 'Bearer error="invalid_token"'),
                ("Link", "</a>; rel=next"),
                ("Link", "</b>; rel=prev"),
                ("ETag", '"v1"'),
            ],
            stream=Zeros(6, b"t"),
        )

    result = await remote_api(StreamingTransport(answer)).forward(call())
    body = b"".join([chunk async for chunk in result.body])
    names = [name.lower() for name, _ in result.headers]
    assert result.status == 418
    assert body == b"tttttt"
    assert names.count("link") == 2
    assert "etag" in names
    for never in ("set-cookie", "connection", "x-hop", "keep-alive", "www-authenticate"):
        assert never not in names


async def test_a_get_without_a_body_is_retried_after_a_refused_connection() -> None:
    transport = StreamingTransport(ok, failures=[httpx.ConnectError("refused")])
    answer = await remote_api(transport, retries=2).forward(call())
    await answer.close()
    assert answer.status == 200
    assert len(transport.requests) == 2


async def test_a_dpop_bound_token_goes_with_a_fresh_proof_for_each_attempt() -> None:
    key = DpopKey.generate()
    transport = StreamingTransport(ok, failures=[httpx.ConnectError("refused")])
    caller_proof = ("DPoP", "the-apps-own-proof-for-the-gateway")
    bound = BoundToken("bound-token", key, CLOCK)
    answer = await remote_api(transport, retries=2).forward(
        call(authorization=bound, headers=[caller_proof])
    )
    await answer.close()
    jtis = set()
    for sent in transport.requests:
        assert sent.headers["authorization"] == "DPoP bound-token"
        assert caller_proof[1] not in sent.headers.get_list("dpop")
        proof = verify_proof(
            sent.headers["dpop"],
            method="GET",
            url="http://reviews.internal/v1/items/7",
            now=CLOCK.time(),
            access_token="bound-token",
            bound_jkt=key.thumbprint,
        )
        jtis.add(proof.jti)
    assert len(transport.requests) == 2
    assert len(jtis) == 2  # a proof is good for one request: the retry made its own


async def test_a_request_with_a_body_is_never_sent_twice() -> None:
    transport = StreamingTransport(ok, failures=[httpx.ConnectError("refused")])
    with pytest.raises(RemoteApiUnavailable):
        await remote_api(transport, retries=2).forward(call("POST", upload(10)))
    assert len(transport.requests) == 1


async def test_without_declared_retries_a_get_is_sent_once() -> None:
    transport = StreamingTransport(ok, failures=[httpx.ReadError("reset")])
    with pytest.raises(RemoteApiUnavailable):
        await remote_api(transport).forward(call())
    assert len(transport.requests) == 1


async def test_a_tls_failure_is_a_bad_gateway_and_not_retried() -> None:
    refused = httpx.ConnectError("tls")
    refused.__cause__ = ssl.SSLError(1, "certificate verify failed")
    transport = StreamingTransport(ok, failures=[refused])
    with pytest.raises(RemoteApiBadGateway):
        await remote_api(transport, retries=2).forward(call())
    assert len(transport.requests) == 1


class Silent(httpx.AsyncBaseTransport):
    """An upstream that takes the request and never answers."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_an_upstream_slower_than_the_timeout_is_a_timeout() -> None:
    with pytest.raises(RemoteApiTimeout):
        await remote_api(Silent(), timeout_s=0.05).forward(call())


async def test_timeouts_count_against_the_breaker() -> None:
    silent = Silent()
    api = remote_api(silent, timeout_s=0.02)
    for _ in range(api.policy.breaker_failure_threshold):
        with pytest.raises(RemoteApiTimeout):
            await api.forward(call())
    with pytest.raises(RemoteApiBreakerOpen):
        await api.forward(call())
    assert silent.calls == api.policy.breaker_failure_threshold


async def test_a_spent_deadline_sends_nothing() -> None:
    transport = StreamingTransport(ok)
    with deadline_scope(Deadline.after(0)), pytest.raises(RemoteApiTimeout):
        await remote_api(transport).forward(call())
    assert transport.requests == []


async def test_the_breaker_opens_after_repeated_failures_and_then_sends_nothing() -> None:
    transport = StreamingTransport(lambda _: httpx.Response(503))
    api = remote_api(transport)
    for _ in range(api.policy.breaker_failure_threshold):
        answer = await api.forward(call())
        await answer.close()
        assert answer.status == 503  # passed through: the upstream answered
    sent = len(transport.requests)
    with pytest.raises(RemoteApiBreakerOpen):
        await api.forward(call())
    assert len(transport.requests) == sent


async def test_a_cookie_the_upstream_set_for_one_call_never_rides_on_the_next() -> None:
    """The remote API's client is shared by every user (``remote_http_client``): a cookie the
    upstream sets in one user's answer must not be sent with another user's call."""
    cookies_sent: list[str | None] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        cookies_sent.append(request.headers.get("cookie"))
        return httpx.Response(200, json={}, headers={"set-cookie": "session=alice; Path=/"})

    settings = declared()
    http = remote_http_client(
        "web", policy_for(settings), ssl.create_default_context(), httpx.MockTransport(upstream)
    )
    api = RemoteApi(settings, http, clock=FakeClock())
    for user in ("alice", "bob"):
        answer = await api.forward(call(authorization=BoundToken(f"{user}-token", None, CLOCK)))
        await answer.close()
    await http.aclose()
    assert cookies_sent == [None, None]
