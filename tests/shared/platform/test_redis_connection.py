"""The gateway's Redis connections: a command's write is bounded without a task of its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.platform.redis import TimedConnection, TimedSSLConnection, create_redis_client

pytestmark = pytest.mark.anyio


async def test_commands_make_no_task(redis_url: str) -> None:
    """redis-py bounds each write with ``asyncio.wait_for``, a task per command on Python 3.11;
    the gateway's connections bound it with ``asyncio.timeout`` instead."""
    client = create_redis_client(redis_url)
    assert isinstance(client, Redis)
    assert client.connection_pool.connection_class is TimedConnection
    loop = asyncio.get_running_loop()
    created: list[str] = []
    previous = loop.get_task_factory()

    def counting(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        created.append(getattr(coro, "__qualname__", "?"))
        return asyncio.Task(coro, loop=loop, **kwargs)

    try:
        await client.set("bff:test:tasks", "1", ex=10)  # the connection is made before counting
        loop.set_task_factory(counting)  # type: ignore[arg-type]
        for _ in range(20):
            assert await client.get("bff:test:tasks") == b"1"
    finally:
        loop.set_task_factory(previous)
        await client.aclose()
    assert created == []


async def test_a_server_that_never_answers_is_a_redis_timeout_within_the_bound() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # reads nothing, answers nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    connection = TimedConnection(host="127.0.0.1", port=port, socket_timeout=0.2)
    started = time.monotonic()
    try:
        with pytest.raises(RedisTimeoutError):
            await connection.send_command("PING")  # connecting (the handshake) gets no answer
        assert time.monotonic() - started < 5  # bounded, with generous slack
        assert connection.socket_timeout == 0.2  # restored for the next command
    finally:
        await connection.disconnect()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
def test_a_tls_url_keeps_tls(anyio_backend: str) -> None:
    client = create_redis_client("rediss://127.0.0.1:6390/0")
    assert isinstance(client, Redis)
    assert client.connection_pool.connection_class is TimedSSLConnection
