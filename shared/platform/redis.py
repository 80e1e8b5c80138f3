"""One factory for the Redis client, whatever the topology (standalone, Sentinel, Cluster).

Everything else in the gateways talks to ``RedisClient`` and keeps its multi-key operations
inside one hash slot (``{...}`` hash tags), so the same code runs unchanged on a Cluster.

A ``rediss://`` URL is TLS to every node (and every Sentinel): verified against
``BFF_REDIS_CA_FILE`` (added to the system store, as redis-py does) with the host name checked,
and the client certificate of ``BFF_REDIS_CLIENT_CERT_FILE`` shown when configured.
"""

from __future__ import annotations

import ssl
from typing import Any, Protocol, TypeAlias
from urllib.parse import urlsplit

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline
from redis.asyncio.sentinel import Sentinel

from shared.platform.redis_round_trip import (
    HiredisPackedConnection,
    HiredisPackedSSLConnection,
    LeanConnectionPool,
    StandaloneRedis,
)
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


class Riders:
    """Several riders in one round trip: each boards in turn and lands its own answers."""

    __slots__ = ("_boarded", "_riders")

    def __init__(self, riders: list[Rider]) -> None:
        self._riders = riders
        self._boarded: list[int] = []

    def board(self, pipe: Any, subject: str) -> int:
        self._boarded = [rider.board(pipe, subject) for rider in self._riders]
        return sum(self._boarded)

    def land(self, answers: list[Any]) -> None:
        start = 0
        for rider, count in zip(self._riders, self._boarded, strict=True):
            rider.land(answers[start : start + count])
            start += count


def ride_together(*riders: Rider | None) -> Rider | None:
    """One rider for those given (None for none)."""
    present = [rider for rider in riders if rider is not None]
    if len(present) < 2:
        return present[0] if present else None
    return Riders(present)


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
        "connection_class": HiredisPackedSSLConnection
        if scheme == "rediss"
        else HiredisPackedConnection
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


def sentinel_service(url: str) -> str:
    """The master's name in a Sentinel URL, or the default when it names none."""
    return urlsplit(url).path.strip("/") or _SENTINEL_MASTER
