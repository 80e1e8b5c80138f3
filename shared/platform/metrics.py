"""The gateways' metric instruments, in one place so names and attributes stay consistent.

Instruments come from the OpenTelemetry API and are created at import: they do nothing until
``shared.platform.telemetry.configure_telemetry`` installs the SDK meter provider (Prometheus on
``/metrics``, OTLP, console), and nothing at all when ``OTEL_METRICS_EXPORTER=none``.

Server and client durations (seconds, the stable HTTP names)::

    http.server.request.duration   http.request.method, http.route, http.response.status_code,
                                   error.type (5xx only), url.scheme
    http.client.request.duration   http.request.method, server.address, server.port,
                                   http.response.status_code, error.type, bff.core.service
                                   (the core service, or "idp"); one measurement per attempt

The gateway's own::

    bff.cache.lookups           counter   bff.cache.name, cache.kind, bff.cache.status
                                          (hit, miss, stale, stale_error, negative)
    bff.cache.redis.errors      counter   bff.cache.name
    bff.cache.redis.available   gauge     bff.cache.name; 1 up, 0 while backing off
    bff.breaker.state           gauge     bff.core.service, bff.breaker.state; 1 = current
    bff.breaker.transitions     counter   bff.core.service, bff.breaker.from, bff.breaker.to
    bff.breaker.rejections      counter   bff.core.service; calls failed fast, nothing sent
    bff.token.refreshes         counter   bff.token.refresh.outcome (ok, failed), error.type
    bff.sessions.active         gauge     bff.gateway; sessions seen in the last 5 minutes

Attribute values are always from small fixed sets: never a user, a key, an id or a raw path.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Final

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from redis.exceptions import RedisClusterException, RedisError

from shared.platform.logging import get_logger
from shared.platform.redis import RedisClient

DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0
)  # fmt: skip
"""The semantic conventions' advice for HTTP durations, in seconds."""

BREAKER_STATES: Final = ("closed", "half_open", "open")

_meter = metrics.get_meter("bff")
_log = get_logger("bff.metrics")

SERVER_DURATION = _meter.create_histogram(
    "http.server.request.duration",
    unit="s",
    description="Duration of HTTP server requests, by route template.",
    explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
)
CLIENT_DURATION = _meter.create_histogram(
    "http.client.request.duration",
    unit="s",
    description="Duration of HTTP client requests (each attempt), by core service.",
    explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
)
CACHE_REDIS_ERRORS = _meter.create_counter(
    "bff.cache.redis.errors",
    unit="{error}",
    description="Redis operations of the cache that failed (the cache then passes through).",
)
CACHE_REDIS_AVAILABLE = _meter.create_gauge(
    "bff.cache.redis.available",
    description="1 while the cache's Redis answers, 0 while the cache is backing off from it.",
)
BREAKER_STATE = _meter.create_gauge(
    "bff.breaker.state",
    description="1 for the circuit breaker's current state, 0 for the others.",
)
BREAKER_TRANSITIONS = _meter.create_counter(
    "bff.breaker.transitions",
    unit="{transition}",
    description="Circuit breaker state changes.",
)
BREAKER_REJECTIONS = _meter.create_counter(
    "bff.breaker.rejections",
    unit="{call}",
    description="Core calls failed fast by an open breaker (nothing was sent).",
)
TOKEN_REFRESHES = _meter.create_counter(
    "bff.token.refreshes",
    unit="{refresh}",
    description="Access token refreshes at the IdP, by outcome.",
)


# --- cache lookups --------------------------------------------------------------------------


class CacheLookups:
    """Lookup outcomes of one cache as plain integers, read only when metrics are collected.

    A lookup is the hottest path there is (several per screen); an SDK counter ``add`` costs
    about 8 us, an integer increment almost nothing. ``bff.cache.lookups`` observes these.
    """

    def __init__(self, cache_name: str) -> None:
        self.cache_name = cache_name
        self.counts: dict[tuple[str, str], int] = {}
        _cache_lookups.add(self)

    def count(self, kind: str, status: str) -> None:
        key = (kind, status)
        self.counts[key] = self.counts.get(key, 0) + 1


_cache_lookups: weakref.WeakSet[CacheLookups] = weakref.WeakSet()


def _observe_cache_lookups(_options: CallbackOptions) -> Iterable[Observation]:
    totals: dict[tuple[str, str, str], int] = {}
    for lookups in list(_cache_lookups):
        for (kind, status), count in list(lookups.counts.items()):
            key = (lookups.cache_name, kind, status)
            totals[key] = totals.get(key, 0) + count
    return [
        Observation(count, {"bff.cache.name": name, "cache.kind": kind, "bff.cache.status": status})
        for (name, kind, status), count in totals.items()
    ]


CACHE_LOOKUPS = _meter.create_observable_counter(
    "bff.cache.lookups",
    callbacks=[_observe_cache_lookups],
    unit="{lookup}",
    description="Cache lookups by outcome: hit, miss, stale, stale_error, negative.",
)


# --- circuit breakers -----------------------------------------------------------------------


def record_breaker_state(service: str, state: str) -> None:
    for candidate in BREAKER_STATES:
        BREAKER_STATE.set(
            1 if candidate == state else 0,
            {"bff.core.service": service, "bff.breaker.state": candidate},
        )


def record_breaker_transition(service: str, old: str, new: str) -> None:
    """The ``on_transition`` hook of every core client's breaker."""
    BREAKER_TRANSITIONS.add(
        1, {"bff.core.service": service, "bff.breaker.from": old, "bff.breaker.to": new}
    )
    record_breaker_state(service, new)


# --- active sessions ------------------------------------------------------------------------


class ActiveSessions:
    """How many sessions made a request in the last ``window_minutes``, across all instances.

    Each instance notes the sessions it serves (as a hash: the session id is a secret) and,
    every ``flush_s``, adds them to a Redis HyperLogLog per minute and counts the union of the
    window's minutes (about 1% error, 12 KB per minute, one round trip per flush; the keys
    share a hash tag, so ``PFCOUNT`` over them works on Redis Cluster). Every instance then
    reports the same cluster-wide number: aggregate with ``max``, not ``sum``. Without Redis
    (one process) the count is this process's own.
    """

    def __init__(
        self,
        gateway: str,
        redis: RedisClient | None,
        *,
        window_minutes: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.gateway = gateway
        self.redis = redis
        self.window_minutes = window_minutes
        self.count = 0
        self._clock = clock
        self._pending: set[bytes] = set()
        self._local: dict[int, set[bytes]] = {}
        self._redis_failing = False
        _active_trackers.add(self)

    def seen(self, session_key: str) -> None:
        """Note a session by its keyed hash (``KeyedHasher.hex("session-key", id)``), never the
        id itself, which is the cookie's or the bearer's secret."""
        self._pending.add(session_key.encode())

    def _key(self, minute: int) -> str:
        return f"bff:metrics:{{active:{self.gateway}}}:{minute}"

    async def flush(self) -> None:
        minute = int(self._clock() // 60)
        minutes = range(minute - self.window_minutes + 1, minute + 1)
        pending, self._pending = self._pending, set()
        if self.redis is None:
            self._local.setdefault(minute, set()).update(pending)
            self._local = {m: ids for m, ids in self._local.items() if m in minutes}
            self.count = len(set().union(*self._local.values()))
            return
        try:
            if pending:
                # Two single-key commands; PFCOUNT separately, since redis-py's cluster pipeline
                # refuses multi-key commands even when the keys share a slot.
                pipe = self.redis.pipeline(transaction=False)
                pipe.pfadd(self._key(minute), *pending)
                pipe.expire(self._key(minute), (self.window_minutes + 1) * 60)
                await pipe.execute()
            count = await self.redis.pfcount(*(self._key(m) for m in minutes))
        except (RedisError, RedisClusterException, OSError) as exc:
            if not self._redis_failing:
                _log.warning("active_sessions_flush_failed", error=type(exc).__name__)
            self._redis_failing = True
            self._pending |= pending  # counted at the next flush that works
            return
        self._redis_failing = False
        self.count = int(count)

    async def run(self, flush_s: float = 15.0) -> None:
        """Flush forever (a lifespan task, cancelled at shutdown); a metric never stops it."""
        while True:
            try:
                await self.flush()
            except Exception:
                _log.exception("active_sessions_flush_crashed")
            await asyncio.sleep(flush_s)


_active_trackers: weakref.WeakSet[ActiveSessions] = weakref.WeakSet()


def _observe_active_sessions(_options: CallbackOptions) -> Iterable[Observation]:
    return [
        Observation(tracker.count, {"bff.gateway": tracker.gateway})
        for tracker in list(_active_trackers)
    ]


ACTIVE_SESSIONS = _meter.create_observable_gauge(
    "bff.sessions.active",
    callbacks=[_observe_active_sessions],
    unit="{session}",
    description="Sessions that made a request in the last 5 minutes (all instances).",
)
