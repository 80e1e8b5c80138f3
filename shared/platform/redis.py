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
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.platform.settings import RedisMode
from shared.platform.tls import TlsClientFiles

RedisClient: TypeAlias = "Redis | RedisCluster"

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


class _WriteBoundByTimeout(AbstractConnection):
    """Bounds a command's write with ``asyncio.timeout`` instead of redis-py's
    ``asyncio.wait_for``, which on Python 3.11 wraps the write in a task of its own: one more
    task, future and timer for every command (the session read, the rate count and the cache
    reads of each request). Same bound (``socket_timeout``), same error, same dropped
    connection when it passes."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        timeout = self.socket_timeout
        if timeout is None:
            await super().send_packed_command(command, check_health)
            return
        # The connection is this caller's alone until it goes back to the pool: without a
        # socket timeout the parent writes directly, and the timeout here bounds it all.
        self.socket_timeout = None
        try:
            async with asyncio.timeout(timeout):
                await super().send_packed_command(command, check_health)
        except TimeoutError:  # the parent has dropped the connection (the write was cut)
            raise RedisTimeoutError("Timeout writing to socket") from None
        finally:
            self.socket_timeout = timeout


class TimedConnection(_WriteBoundByTimeout, Connection):
    """A plain TCP connection whose writes make no task (see ``_WriteBoundByTimeout``)."""


class TimedSSLConnection(_WriteBoundByTimeout, SSLConnection):
    """A TLS connection whose writes make no task (see ``_WriteBoundByTimeout``)."""


def _timed(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    if issubclass(connection_class, SSLConnection):
        return TimedSSLConnection
    if issubclass(connection_class, Connection):
        return TimedConnection
    return connection_class


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
    # A blocking pool: a burst waits briefly for a connection instead of failing at once.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=_MAX_CONNECTIONS,
        timeout=_TIMEOUT_S,
        socket_timeout=_TIMEOUT_S,
        socket_connect_timeout=_TIMEOUT_S,
        **secure,
    )
    pool.connection_class = _timed(pool.connection_class)  # rediss:// chose SSLConnection
    return Redis.from_pool(pool)  # the client owns the pool and closes it in aclose()


def sentinel_service(url: str) -> str:
    """The master's name in a Sentinel URL, or the default when it names none."""
    return urlsplit(url).path.strip("/") or _SENTINEL_MASTER
