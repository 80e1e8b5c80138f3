"""A caller that goes away while its body goes up: the call is abandoned quietly. The upstream
(a real socket here) sees its connection closed, the breaker is not charged, and one info line
without a stack trace says so; Litestar's own disconnect error is what the body raises. A caller
that goes away mid-download has the upstream's answer closed by the response itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
from litestar.exceptions import InternalServerException
from litestar.types import Message

from core_clients.breaker import BreakerState
from shared.remote.endpoint import caller_body, streamed_answer
from shared.remote.errors import RemoteApiCallerGone
from shared.remote.forwarding import RemoteApi, UpstreamAnswer
from tests.fixtures.clock import FakeClock
from tests.shared.remote.test_forwarding import CHUNK, call, declared

pytestmark = pytest.mark.anyio

UPSTREAM_WAIT_S = 10.0
"""A bound on waiting for the upstream to see the close, not a timing: it is seen at once."""


class SilentUpstream:
    """A socket that reads requests and never answers; counts the connections it saw closed."""

    def __init__(self) -> None:
        self.closed = 0
        self.changed = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._read_until_closed, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _read_until_closed(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while await reader.read(1 << 16):
                pass
        except ConnectionError:
            pass
        writer.close()
        self.closed += 1
        self.changed.set()

    async def wait_closed(self, count: int) -> None:
        async with asyncio.timeout(UPSTREAM_WAIT_S):
            while self.closed < count:
                self.changed.clear()
                await self.changed.wait()


async def disconnecting_caller(
    detail: str = "client disconnected prematurely",
) -> AsyncIterator[bytes]:
    """A request body as Litestar's ``Request.stream()`` gives it when the caller goes away."""
    yield bytes(CHUNK)
    yield bytes(CHUNK)
    raise InternalServerException(detail)


def api_at(upstream: str) -> RemoteApi:
    return RemoteApi(declared(upstream=upstream), httpx.AsyncClient(), clock=FakeClock())


async def test_a_caller_gone_mid_upload_closes_the_upstream_connection_and_logs_one_line() -> None:
    upstream = SilentUpstream()
    async with upstream as upstream_url:
        api = api_at(upstream_url)
        with structlog.testing.capture_logs() as logs, pytest.raises(RemoteApiCallerGone):
            await api.forward(call("POST", body=caller_body(disconnecting_caller())))
        await upstream.wait_closed(1)
        await api.http.aclose()
    gone = [line for line in logs if line["event"] == "remote_api_caller_gone"]
    assert gone == [
        {"event": "remote_api_caller_gone", "log_level": "info", "api": "reviews", "method": "POST"}
    ]
    assert all("exc_info" not in line and line["log_level"] != "error" for line in logs)


async def test_callers_gone_do_not_charge_the_breaker() -> None:
    upstream = SilentUpstream()
    async with upstream as upstream_url:
        api = api_at(upstream_url)
        for _ in range(api.policy.breaker_failure_threshold + 1):
            with pytest.raises(RemoteApiCallerGone):
                await api.forward(call("PUT", body=caller_body(disconnecting_caller())))
        await upstream.wait_closed(api.policy.breaker_failure_threshold + 1)
        assert api.breaker.state is BreakerState.CLOSED
        await api.http.aclose()


async def test_another_litestar_error_from_the_body_is_not_taken_for_a_disconnect() -> None:
    with pytest.raises(InternalServerException):
        async for _ in caller_body(disconnecting_caller("stream consumed")):
            pass


async def test_the_upstream_answer_is_closed_when_the_caller_goes_mid_download() -> None:
    """The body is held here, so only the response's own close can close the answer."""
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield bytes(CHUNK)
            await asyncio.sleep(0)

    async def close() -> None:
        closed.set()

    body = endless()
    response = streamed_answer(UpstreamAnswer(200, [], body, close))
    sent: list[Message] = []
    a_little_sent = asyncio.Event()

    async def receive() -> Message:
        await a_little_sent.wait()  # the head and a little of the body, then the caller goes
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if len(sent) == 3:
            a_little_sent.set()

    async with asyncio.timeout(UPSTREAM_WAIT_S):
        await response({"type": "http", "method": "GET"}, receive, send)  # type: ignore[arg-type]
    assert closed.is_set()
    assert sent[0]["type"] == "http.response.start"
    await body.aclose()
