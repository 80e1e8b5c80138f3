"""What a round trip to a standalone Redis costs: the pool's checkout and a pipeline's run.

Counted with callgrind, two GETs in one redis-py asyncio pipeline cost about 366,000 CPU
instructions, nearly twice what the framework spends on a whole request, and every screen
sends two such round trips (the session with its rate count, and the cache's batch). Most of it
is redis-py's per-call machinery rather than the commands:

* ``ConnectionPool.get_connection`` and ``release`` take an ``asyncio.Lock`` and record
  connection counts and events for observability this service does not use;
* a pipeline's run releases its connection in a task of its own (``asyncio.shield``), wraps the
  run in a retry helper (with no retries configured here), and arms a timer for the write and
  one for every reply.

``HiredisPackedConnection`` (and its TLS twin) packs commands with hiredis, as redis-py's sync
client does (its asyncio connection packs in Python), and bounds each write with
``asyncio.timeout`` rather than a ``wait_for`` task. ``LeanConnectionPool`` checks connections
out and in without the lock (one event loop owns the
pool, and nothing between taking a connection and marking it in use awaits) and without the
bookkeeping, and still connects, checks for unread data or a closed socket, and refuses a
checkout past ``max_connections`` as redis-py does. ``OneTripPipeline`` runs a plain pipeline
with the others started in the same turn of the loop (``SharedRoundTrips``): one connection,
one write, one ``asyncio.timeout`` (the socket timeout) for the write and every reply; a round
trip that times out or fails closes its connection, as redis-py's own reads do, and a caller
that is cancelled leaves the round trip to finish (its replies are read and dropped).
redis-py's commands, reply parser and reply callbacks are kept. A transaction, a WATCH, or a
pipeline with scripts to load runs as redis-py runs it.

Under load the shared round trip is most of the gain: wrk's 32 connections on one worker put
about 16 session reads in each round trip, and Redis spends half the CPU per request it did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, cast

import hiredis
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

__all__ = [
    "HiredisPackedConnection",
    "HiredisPackedSSLConnection",
    "LeanConnectionPool",
    "OneTripPipeline",
    "StandaloneRedis",
]


def packed_by_hiredis(connection: AbstractConnection, *args: EncodableT) -> list[bytes]:
    """A command in RESP, packed by hiredis as redis-py's own sync client packs it when hiredis
    is installed; its asyncio connection packs in Python, a tenth of the speed (about 18 us of
    a cached screen's six commands). A first argument of several words (``CONFIG GET``) is
    split, as redis-py splits it; what hiredis refuses (a bytearray, or a bool or None, which
    redis-py refuses too) goes to redis-py's packer, which packs or names it."""
    first = args[0]
    if isinstance(first, str):
        args = (*first.encode().split(), *args[1:])
    elif isinstance(first, bytes) and b" " in first:
        args = (*first.split(), *args[1:])
    try:
        return [hiredis.pack_command(args)]  # type: ignore[arg-type]  # a bytearray: TypeError
    except TypeError:
        return AbstractConnection.pack_command(connection, *args)


async def send_within_timeout(
    connection: AbstractConnection,
    command: bytes | str | Iterable[bytes],
    check_health: bool = True,
) -> None:
    """redis-py's ``send_packed_command`` with its socket timeout kept by ``asyncio.timeout``
    instead of ``asyncio.wait_for``, which on Python 3.11 runs every write in a task of its own
    (a task for a write that almost always completes at once). The same errors: a write that
    times out or fails closes the connection and raises redis-py's ``TimeoutError`` or
    ``ConnectionError``. A connection still to be made, or one due for a health check, takes
    redis-py's own path."""
    timeout = connection.socket_timeout
    due = check_health and connection.health_check_interval
    if not connection.is_connected or not timeout or due:
        await AbstractConnection.send_packed_command(connection, command, check_health)
        return
    if isinstance(command, str):
        command = command.encode()
    chunks = [command] if isinstance(command, bytes) else command
    try:
        async with asyncio.timeout(timeout):
            await connection._send_packed_command(chunks)
    except TimeoutError:
        await connection.disconnect(nowait=True)
        raise RedisTimeoutError("Timeout writing to socket") from None
    except OSError as exc:
        await connection.disconnect(nowait=True)
        raise RedisConnectionError(f"Error while writing to socket. {exc.args}.") from exc
    except BaseException:
        await connection.disconnect(nowait=True)
        raise


class HiredisPackedConnection(Connection):
    """The standalone client's connection (``create_redis_client``): commands packed by
    hiredis, writes bounded without a task."""

    pack_command = packed_by_hiredis
    send_packed_command = send_within_timeout


class HiredisPackedSSLConnection(SSLConnection):
    pack_command = packed_by_hiredis
    send_packed_command = send_within_timeout


class LeanConnectionPool(ConnectionPool):
    """redis-py's pool, checked out and in without its lock and observability records."""

    async def get_connection(self, *_: Any, **__: Any) -> AbstractConnection:
        connection: AbstractConnection = self.get_available_connection()  # type: ignore[no-untyped-call]
        try:
            await self.ensure_connection(connection)  # connected, nothing unread, not closed
        except BaseException:
            await self.release(connection)
            raise
        return connection

    async def release(self, connection: AbstractConnection) -> None:
        self._in_use_connections.remove(connection)
        if connection.should_reconnect():  # type: ignore[no-untyped-call]
            await connection.disconnect()
        self._available_connections.append(connection)


Waiting = tuple["OneTripPipeline", list[Any], "asyncio.Future[list[Any]]"]
"""A pipeline, the commands it sends, and where its replies go."""


class SharedRoundTrips:
    """The plain pipelines run in one turn of the event loop go to Redis together: one
    connection, one write, their replies read in order and handed to each pipeline.

    A loaded gateway starts many requests in one turn, and each reads its session first: alone,
    each read paid for a connection, a write (a system call, about as dear as the rest of the
    round trip) and a wake-up; together they pay once. The round trip runs in a task of its
    own, so a caller that gives up (a cancelled request) leaves the others theirs; its
    replies are read and dropped. A failure (timeout, lost connection) fails every caller of
    the round trip and closes its connection; an error reply goes to its own caller only."""

    def __init__(self, pool: ConnectionPool, timeout_s: float) -> None:
        self._pool = pool
        self.timeout_s = timeout_s
        self._waiting: list[Waiting] = []
        self._running: set[asyncio.Task[None]] = set()

    def join(self, pipe: OneTripPipeline, stack: list[Any]) -> asyncio.Future[list[Any]]:
        """``stack``'s replies, in order (an error reply in its place), once sent and read."""
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._start)
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._waiting.append((pipe, stack, future))
        return future

    async def aclose(self) -> None:
        """Let the round trips on their way finish (each within its timeout)."""
        await asyncio.gather(*self._running, return_exceptions=True)

    def _start(self) -> None:
        waiting, self._waiting = self._waiting, []
        task = asyncio.get_running_loop().create_task(self._round_trip(waiting))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _round_trip(self, waiting: list[Waiting]) -> None:
        waiting = [entry for entry in waiting if not entry[2].done()]  # callers gone already
        if not waiting:
            return
        try:
            replies = await self._send(waiting)
        except Exception as exc:
            failure = (
                RedisTimeoutError("Timeout in a Redis round trip")
                if isinstance(exc, TimeoutError)
                else exc
            )
            for _, _, future in waiting:
                if not future.done():
                    future.set_exception(failure)
            return
        except BaseException:  # cancelled (shutdown): so are its callers
            for _, _, future in waiting:
                future.cancel()
            raise
        for (_, _, future), own in zip(waiting, replies, strict=True):
            if not future.done():
                future.set_result(own)

    async def _send(self, waiting: list[Waiting]) -> list[list[Any]]:
        pool = self._pool
        connection = cast(Connection, await pool.get_connection())  # type: ignore[no-untyped-call]
        # The round trip's one timeout bounds the write and every reply: the connection's own
        # would arm a timer for each.
        socket_timeout, connection.socket_timeout = connection.socket_timeout, None
        try:
            async with asyncio.timeout(self.timeout_s):
                return await _write_and_read(connection, waiting)
        except TimeoutError:
            await connection.disconnect(nowait=True)
            raise
        finally:
            connection.socket_timeout = socket_timeout
            await pool.release(connection)


async def _write_and_read(connection: Connection, waiting: list[Waiting]) -> list[list[Any]]:
    """Each pipeline's replies in order, an error reply in its place. Any other failure closes
    the connection inside redis-py's write or read."""
    commands = [args for _, stack, _ in waiting for args, _ in stack]
    await connection.send_packed_command(connection.pack_commands(commands), check_health=False)
    replies: list[list[Any]] = []
    for pipe, stack, _ in waiting:
        own: list[Any] = []
        for args, options in stack:
            try:
                own.append(await pipe.parse_response(connection, args[0], **options))
            except ResponseError as error:
                own.append(error)
        replies.append(own)
    return replies


class OneTripPipeline(Pipeline):
    """redis-py's pipeline, whose plain runs go to Redis with the others of the same turn of
    the loop (``SharedRoundTrips``): one write and its replies on one connection, under one
    timeout."""

    def __init__(self, round_trips: SharedRoundTrips, *args: Any) -> None:
        super().__init__(*args)
        self._round_trips = round_trips

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        plain = not (self.is_transaction or self.explicit_transaction or self.watching)
        if not plain or self.scripts or self.connection is not None:
            return await super().execute(raise_on_error)
        stack, self.command_stack = self.command_stack, []
        if not stack:
            return []
        replies = await self._round_trips.join(self, stack)
        if raise_on_error:
            self.raise_first_error(stack, replies)
        return replies


class StandaloneRedis(Redis):
    """The client of a standalone Redis (``create_redis_client``), on a ``LeanConnectionPool``:
    its plain pipelines are ``OneTripPipeline``s sharing their turn's round trip; everything
    else is redis-py's own."""

    round_trips: SharedRoundTrips

    @classmethod
    def on_pool(cls, pool: LeanConnectionPool, *, timeout_s: float) -> StandaloneRedis:
        client = cls.from_pool(pool)  # the client owns the pool and closes it in aclose()
        assert isinstance(client, StandaloneRedis)
        client.round_trips = SharedRoundTrips(pool, timeout_s)
        return client

    @property
    def round_trip_timeout_s(self) -> float:
        return self.round_trips.timeout_s

    @round_trip_timeout_s.setter
    def round_trip_timeout_s(self, timeout_s: float) -> None:
        self.round_trips.timeout_s = timeout_s

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        if transaction or shard_hint is not None:
            return super().pipeline(transaction, shard_hint)
        return OneTripPipeline(
            self.round_trips, self.connection_pool, self.response_callbacks, False, None
        )

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await self.round_trips.aclose()
        await super().aclose(close_connection_pool)
