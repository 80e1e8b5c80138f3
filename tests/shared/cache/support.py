"""What the cache tests share: a stand-in source, a bounded wait, one way to look a key up."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any

import msgspec
import redis
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from shared.cache import Cache, CacheKey, CacheResult
from tests.fixtures.redis import redis_server_command
from tests.fixtures.servers import free_port

TTL = 10.0  # fresh this long; the tests' clock moves past it without waiting
SLACK_S = 5.0  # generous bound for anything that waits on another task
SECRET = "cache-tests-secret-key-0123456789abcdef"
OTHER_SECRET = "another-deployment-secret-9876543210zyxw"

MakeCache = Callable[..., Cache]


class Product(msgspec.Struct, frozen=True):
    id: str
    name: str


class Source:
    """A stand-in core service: counts calls, can be held (so callers pile up) or fail."""

    def __init__(self, value: Any = "v1") -> None:
        self.value = value
        self.error: Exception | None = None
        self.calls = 0
        self.released = asyncio.Event()
        self.released.set()

    def hold(self) -> None:
        self.released.clear()

    async def load(self) -> Any:
        self.calls += 1
        await self.released.wait()
        if self.error is not None:
            raise self.error
        return self.value


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait (bounded) until ``condition`` holds; behaviour, not speed, is under test."""
    async with asyncio.timeout(SLACK_S):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


async def get(cache: Cache, key: CacheKey, source: Source, **options: Any) -> CacheResult[Any]:
    options = {"ttl": TTL, "stale_ttl": 60.0, "type": Any, **options}
    return await cache.get_or_load(key, source.load, **options)


async def wait_for_value(
    cache: Cache, key: CacheKey, source: Source, value: str
) -> CacheResult[Any]:
    """Look ``key`` up until a background refresh has brought ``value``."""
    async with asyncio.timeout(SLACK_S):
        while True:
            result = await get(cache, key, source)
            if result.value == value:
                return result
            await asyncio.sleep(0.02)


class CountingRedis(Redis):
    """A Redis client that records each request it sends in ``round_trips``, as the names of
    its commands: one tuple a round trip (a pipeline is one, whatever its length)."""

    round_trips: list[tuple[str, ...]]

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.round_trips.append((str(args[0]).upper(),))
        return await super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        return _CountingPipeline(
            self.round_trips, self.connection_pool, self.response_callbacks, transaction, shard_hint
        )


def counting_redis(url: str) -> CountingRedis:
    client = CountingRedis.from_url(url)
    client.round_trips = []
    return client


class _CountingPipeline(Pipeline):
    def __init__(self, round_trips: list[tuple[str, ...]], *args: Any) -> None:
        super().__init__(*args)
        self._round_trips = round_trips

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        self._round_trips.append(tuple(str(args[0]).upper() for args, _ in self.command_stack))
        return await super().execute(raise_on_error)


def stored_names(client: redis.Redis) -> list[bytes]:
    """Every key name in the test's Redis."""
    return [name if isinstance(name, bytes) else name.encode() for name in client.keys("*")]


class RedisProcess:
    """A redis-server that a test may stop and start again on the same port."""

    def __init__(self) -> None:
        self.url = f"redis://127.0.0.1:{free_port()}/0"
        self.workdir = tempfile.mkdtemp(prefix="bff-test-cache-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = self.url.rsplit(":", 1)[1].split("/")[0]
        self._process = subprocess.Popen(
            redis_server_command("redis-server", port, self.workdir),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.02)
            raise RuntimeError("redis-server did not start")
        finally:
            client.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None
