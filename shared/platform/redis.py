"""One factory for the Redis client, whatever the topology (standalone, Sentinel, Cluster).

Everything else in the gateways talks to ``RedisClient`` and keeps its multi-key operations
inside one hash slot (``{...}`` hash tags), so the same code runs unchanged on a Cluster.

A ``rediss://`` URL is TLS to every node (and every Sentinel): verified against
``BFF_REDIS_CA_FILE`` (added to the system store, as redis-py does) with the host name checked,
and the client certificate of ``BFF_REDIS_CLIENT_CERT_FILE`` shown when configured.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any, Protocol, TypeAlias
from urllib.parse import urlsplit

import hiredis
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

from shared.platform.redis_round_trip import LeanConnectionPool, StandaloneRedis
from shared.platform.settings import RedisMode
from shared.platform.tls import TlsClientFiles

RedisClient: TypeAlias = "Redis | RedisCluster"
RedisPipeline: TypeAlias = "Pipeline | ClusterPipeline"


class Rider(Protocol):
    """Commands for the same Redis that travel in another caller's round trip (one pipeline)
    instead of paying for one of their own: each round trip costs a pooled connection, a
    write and a wake-up, far more than a command in it. The caller boards the rider's commands
    after its own, sends the pipeline, and hands the rider what its commands answered (an
    exception in place of an answer that failed, as ``execute(raise_on_error=False)`` gives).
    A rider that never landed (a store without Redis) leaves its owner to send the commands
    itself."""

    def board(self, pipe: Any, subject: str) -> int:
        """Queue the commands for ``subject`` (what the caller reads: a session id); how many."""
        ...

    def land(self, answers: list[Any]) -> None:
        """What the queued commands answered, in order."""
        ...


_TIMEOUT_S = 2.0
_MAX_CONNECTIONS = 512
_SENTINEL_MASTER = "mymaster"
"""The master's name when a Sentinel URL has no path (``redis://s1:26379,s2:26379/<name>``)."""


class SentinelMaster(Redis):
    """The master of a Sentinel set, which also closes its connections to the sentinels:
    closing only the master client left them open past the gateway's shutdown."""

    sentinels: tuple[Redis, ...] = ()

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        try:
            await super().aclose(close_connection_pool)
        finally:
            for sentinel in self.sentinels:
                await sentinel.aclose()


def tls_options(url: str, tls: TlsClientFiles | None) -> dict[str, Any]:
    """redis-py's TLS keywords for a ``rediss://`` URL (none for ``redis://``: they would be
    refused by a plain connection). Verification stays on: certificate and host name."""
    if urlsplit(url).scheme != "rediss":
        return {}
    tls = tls or TlsClientFiles()
    return {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_min_version": ssl.TLSVersion.TLSv1_2,
        "ssl_ca_certs": tls.ca_file,
        "ssl_certfile": tls.client_cert_file,
        "ssl_keyfile": tls.client_key_file,
    }


def create_redis_client(
    url: str, mode: RedisMode = "standalone", tls: TlsClientFiles | None = None
) -> RedisClient:
    """Build (but do not connect) the client; the lifespan pings it and closes it."""
    secure = tls_options(url, tls)
    if mode == "cluster":
        return RedisCluster.from_url(
            url,
            socket_timeout=_TIMEOUT_S,
            socket_connect_timeout=_TIMEOUT_S,
            max_connections=_MAX_CONNECTIONS,
            **secure,
        )
    if mode == "sentinel":
        parts = urlsplit(url)
        hosts = [
            (h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1]) if ":" in h else 26379)
            for h in parts.netloc.rsplit("@", 1)[-1].split(",")
        ]
        service = sentinel_service(url)
        with_tls: dict[str, Any] = {"ssl": True, **secure} if secure else {}
        # The sentinels get the socket options (as redis-py gives them by default) and TLS.
        to_sentinels = {"socket_timeout": _TIMEOUT_S, "socket_connect_timeout": _TIMEOUT_S}
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            hosts,
            socket_timeout=_TIMEOUT_S,
            socket_connect_timeout=_TIMEOUT_S,
            password=parts.password,
            sentinel_kwargs={**to_sentinels, **with_tls} if with_tls else None,
            **with_tls,
        )
        client: SentinelMaster = sentinel.master_for(
            service, redis_class=SentinelMaster, password=parts.password
        )
        client.sentinels = tuple(sentinel.sentinels)
        return client
    # A plain pool (``LeanConnectionPool``, redis-py's checked out more cheaply): a worker
    # with _MAX_CONNECTIONS commands in flight is overloaded, and one more is refused at once
    # (a 503) instead of queueing behind them. redis-py's blocking pool's waiting (a condition
    # and a timeout on every checkout and release) cost about 4 % of a cached screen's
    # instructions, for a case that should shed load anyway.
    scheme = urlsplit(url).scheme
    packed: dict[str, Any] = {
        "connection_class": _HiredisPackedSSLConnection
        if scheme == "rediss"
        else _HiredisPackedConnection
    }
    pool = LeanConnectionPool.from_url(
        url,
        **(packed if scheme in ("redis", "rediss") else {}),  # unix:// keeps its own class
        max_connections=_MAX_CONNECTIONS,
        socket_timeout=_TIMEOUT_S,
        socket_connect_timeout=_TIMEOUT_S,
        **secure,
    )
    # Its plain pipelines (the session's read, the cache's batch) are one write and their
    # replies under one timeout: see ``redis_round_trip``.
    return StandaloneRedis.on_pool(pool, timeout_s=_TIMEOUT_S)


def _packed_by_hiredis(connection: AbstractConnection, *args: EncodableT) -> list[bytes]:
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


async def _send_within_timeout(
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


class _HiredisPackedConnection(Connection):
    pack_command = _packed_by_hiredis
    send_packed_command = _send_within_timeout


class _HiredisPackedSSLConnection(SSLConnection):
    pack_command = _packed_by_hiredis
    send_packed_command = _send_within_timeout


def sentinel_service(url: str) -> str:
    """The master's name in a Sentinel URL, or the default when it names none."""
    return urlsplit(url).path.strip("/") or _SENTINEL_MASTER
