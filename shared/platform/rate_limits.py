"""Request rates, counted once for every instance of a gateway.

Three rules, each ``BFF_RATE_LIMIT_*`` (a ``limits`` rate such as ``30/minute``, or ``off``):

* ``login`` (per client address): starting and finishing a login, ``/bff/login``,
  ``/bff/callback``, ``/auth/authorize``, ``/auth/callback``;
* ``token`` (per client address): ``POST /auth/token``;
* ``api`` (per session): every ``/api/*`` and ``/m/v1/*`` call.

The counters live in Redis when the gateway has it (standalone, Cluster or Sentinel, as
``BFF_REDIS_MODE`` says), so the 31st login start within a minute is refused by whichever
instance it reaches; without Redis they live in this process. The ``limits`` library's sliding
window counter does the counting: one Lua script per request (atomic across instances), two
small keys per counted caller, gone a window after its last request. On a standalone Redis the
``api`` count rides in the round trip that reads the session (``SessionHit``), so a screen pays
no round trip for it; the library's own Cluster and Sentinel clients send it alone. The first
refused request pays a second round trip, to read when to come back (``Retry-After``); the
instance then remembers the refusal until that time, so a caller hammering past its limit costs
Redis nothing more there (a refused request is not counted anyway).

Key names hold a keyed hash of the caller (purpose ``rate-limit``), never a session id or an
address. An IPv6 client is counted by its /64, which one subscriber usually holds whole.
Redis unreachable: the store error becomes the usual 503, as for sessions.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from limits import RateLimitItem, parse
from limits.aio.storage import (
    MemoryStorage,
    RedisClusterStorage,
    RedisSentinelStorage,
    RedisStorage,
    Storage,
)
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from shared.platform.client_address import ClientAddresses, IPAddress
from shared.platform.errors import TooManyRequests
from shared.platform.keys import KeyedHasher
from shared.platform.redis import RedisClient, sentinel_service, tls_options
from shared.platform.settings import Settings
from shared.platform.state import StateSlot

RuleName = Literal["login", "token", "api"]
KEY_PREFIX = "bff:rate"
IPV6_CLIENT_PREFIX = 64
MAX_REMEMBERED_REFUSALS = 10_000
"""Callers refused recently, per instance; past this the oldest are forgotten (and asked
about in Redis again), so a flood of distinct callers cannot grow the process."""

Refusal = Callable[[int], Exception]
"""Builds what a refused request raises from its ``Retry-After`` seconds."""

NOT_LANDED: Final = object()
"""A :class:`SessionHit` whose commands were not sent with a session read."""


def too_many_requests(retry_after: int) -> Exception:
    return TooManyRequests(
        "Too many requests; try again later", headers={"Retry-After": str(retry_after)}
    )


class RateLimits:
    """The gateway's three rules over one shared counter store."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        keys: KeyedHasher,
        addresses: ClientAddresses,
    ) -> None:
        self.storage = storage
        self.addresses = addresses
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        # Standalone: the counters are on the gateway's own pool, so a count can ride along the
        # session's read (SessionHit). The library's Cluster and Sentinel clients are its own.
        self._shares_pool = type(storage) is RedisStorage
        self._keys = keys
        self._refused_until: dict[str, float] = {}
        self._rules: dict[RuleName, RateLimitItem | None] = {
            "login": _item(settings.rate_limit_login),
            "token": _item(settings.rate_limit_token),
            "api": _item(settings.rate_limit_api),
        }

    def enabled(self, rule: RuleName) -> bool:
        return self._rules[rule] is not None

    def counter_name(self, rule: RuleName, caller: str) -> str:
        """The caller as its counters name it: a keyed hash, never a session id or address."""
        return self._keys.short("rate-limit", rule, caller)

    async def retry_after(
        self, rule: RuleName, caller: str, ridden: object = NOT_LANDED, *, name: str | None = None
    ) -> int | None:
        """Count one request of ``caller`` against ``rule``: None when allowed, else the whole
        seconds until it may try again. ``ridden`` is what the count's script answered when it
        was sent with another round trip (``SessionHit``, which also knows the ``name``)."""
        item = self._rules[rule]
        if item is None:
            return None
        name = name or self.counter_name(rule, caller)
        # The library tells time by the wall clock (Redis's TTLs do too), so this does as well.
        now = time.time()
        refused_until = self._refused_until.get(name)
        if refused_until is not None:
            if refused_until > now:
                return math.ceil(refused_until - now)
            del self._refused_until[name]
        if await self._counted(item, rule, name, ridden):
            return None
        stats = await self._limiter.get_window_stats(item, rule, name)
        retry_after = max(1, math.ceil(stats.reset_time - now))
        self._remember_refusal(name, now + retry_after)
        return retry_after

    async def _counted(
        self, item: RateLimitItem, rule: RuleName, name: str, ridden: object
    ) -> bool:
        if ridden is NOT_LANDED or isinstance(ridden, NoScriptError):
            return await self._limiter.hit(item, rule, name)  # (loads its script if need be)
        if isinstance(ridden, Exception):
            raise ridden
        return bool(ridden)

    def session_hit(self) -> SessionHit | None:
        """A request's ``api`` count, to ride with its session's read (one round trip for
        both); None when the counters are not on the session store's connections (memory, or
        the library's own Cluster or Sentinel client) or the rule is off."""
        if not self._shares_pool or self._rules["api"] is None:
            return None
        return SessionHit(self)

    def board_count(self, pipe: Any, rule: RuleName, name: str) -> int:
        """Queue the library's sliding-window script for one request of the caller ``name``
        (``counter_name``), called by its SHA with the keys and arguments its own ``hit``
        sends; nothing for a caller refused just now (counted again once that has passed)."""
        item = self._rules[rule]
        if item is None or not self._shares_pool:
            return 0
        if name in self._refused_until:
            return 0
        storage: Any = self.storage  # RedisStorage: the window keys are the library's own
        key = item.key_for(rule, name)
        keys = [storage._previous_window_key(key), storage._current_window_key(key)]
        bridge = storage.bridge
        script = bridge.lua_acquire_sliding_window
        pipe.evalsha(
            script.sha, 2, *map(bridge.prefixed_key, keys), item.amount, item.get_expiry(), 1
        )
        return 1

    def _remember_refusal(self, name: str, until: float) -> None:
        if len(self._refused_until) >= MAX_REMEMBERED_REFUSALS:
            del self._refused_until[next(iter(self._refused_until))]  # the oldest entry
        self._refused_until[name] = until

    async def check_session(
        self,
        session_id: str,
        refuse: Refusal = too_many_requests,
        hit: SessionHit | None = None,
    ) -> None:
        """The ``api`` rule for one session; raises ``refuse(retry_after)`` past it. ``hit``:
        the count already sent with this session's read, if it was."""
        caller = f"session:{session_id}"
        if hit is not None and hit.session_id == session_id:
            retry_after = await self.retry_after("api", caller, hit.answer, name=hit.name)
        else:
            retry_after = await self.retry_after("api", caller)
        if retry_after is not None:
            raise refuse(retry_after)

    async def check_client(
        self, rule: RuleName, scope: Scope, refuse: Refusal = too_many_requests
    ) -> None:
        """``rule`` for the calling address (see ``client_address``)."""
        retry_after = await self.retry_after(rule, _client_key(self.addresses.of(scope)))
        if retry_after is not None:
            raise refuse(retry_after)


class SessionHit:
    """One request's count under the ``api`` rule, sent in the round trip that reads its
    session (a :class:`shared.platform.redis.Rider`) instead of one of its own: a cached
    screen then costs one Redis round trip less. A session that is not found answers 401 before
    its count is looked at, so only a real session's count is ever sent this way."""

    __slots__ = ("_limits", "answer", "name", "session_id")

    def __init__(self, limits: RateLimits) -> None:
        self._limits = limits
        self.session_id: str | None = None
        self.name: str | None = None
        self.answer: object = NOT_LANDED

    def board(self, pipe: Any, subject: str) -> int:
        self.session_id = subject
        self.name = self._limits.counter_name("api", f"session:{subject}")
        return self._limits.board_count(pipe, "api", self.name)

    def land(self, answers: list[Any]) -> None:
        self.answer = answers[0] if answers else NOT_LANDED


def _item(rate: str | None) -> RateLimitItem | None:
    return None if rate is None else parse(rate)


def _client_key(address: IPAddress | None) -> str:
    if address is None:
        return "ip:unknown"
    if address.version == 6:
        network = ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False)
        return f"ip:{network}"
    return f"ip:{address}"


RATE_LIMITS = StateSlot("rate_limits", RateLimits)


def rate_limit_storage(settings: Settings, redis: RedisClient | None) -> Storage:
    """The counters' store: the gateway's own Redis connection pool when it is standalone; a
    client of the library's for a Cluster or Sentinel, at the same URL."""
    if settings.redis_url is None or redis is None:
        return MemoryStorage()
    url = settings.redis_url
    rest = url.split("://", 1)[1]
    # rediss://: the library's own clients get the gateway's TLS files too (CA, client cert).
    secure = tls_options(url, settings.redis_tls)
    tls: dict[str, Any] = {"ssl": True, **secure} if secure else {}
    if settings.redis_mode == "cluster":
        return RedisClusterStorage(
            f"async+redis+cluster://{rest}",
            implementation="redispy",
            key_prefix=KEY_PREFIX,
            **tls,
        )
    if settings.redis_mode == "sentinel":
        netloc = rest.split("/", 1)[0]
        return RedisSentinelStorage(
            f"async+redis+sentinel://{netloc}/{sentinel_service(url)}",
            implementation="redispy",
            key_prefix=KEY_PREFIX,
            use_replicas=False,  # a replica may lag: counts are read and written on the master
            sentinel_kwargs=tls or None,
            **tls,
        )
    if not isinstance(redis, Redis):
        raise TypeError("a standalone Redis URL needs a standalone client")
    pool: Any = redis.connection_pool
    return RedisStorage(
        f"async+{url}", implementation="redispy", key_prefix=KEY_PREFIX, connection_pool=pool
    )


async def close_rate_limit_storage(storage: Storage) -> None:
    """The library has no close of its own: its Cluster or Sentinel client is closed here (the
    standalone one runs on the gateway's pool, which the gateway closes), and the memory store's
    expiry task is stopped."""
    if isinstance(storage, RedisClusterStorage | RedisSentinelStorage):
        bridge: Any = storage.bridge  # the redis-py bridge keeps its client as ``storage``
        await bridge.storage.aclose()
        # Sentinel: closing the master client leaves its connections to the sentinels open.
        for sentinel in getattr(getattr(bridge, "sentinel", None), "sentinels", ()):
            await sentinel.aclose()
    elif isinstance(storage, MemoryStorage) and storage.timer is not None:
        storage.timer.cancel()


@dataclass(frozen=True)
class LimitedPath:
    """A path counted per client address: its rule, and how a refusal is answered."""

    rule: RuleName
    refuse: Refusal = too_many_requests


class ClientRateLimitMiddleware(ASGIMiddleware):
    """Counts the requests to a few exact paths per client address, before any handler runs.

    A middleware (not a guard on each handler) so the gateway's ``app.py`` says in one place
    which paths are counted; it reads the ``RATE_LIMITS`` slot, as it has no dependencies.
    """

    def __init__(self, paths: Mapping[str, LimitedPath]) -> None:
        self.paths = dict(paths)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        limited = self.paths.get(scope["path"])
        if limited is not None:
            rate_limits = RATE_LIMITS.get(scope["litestar_app"].state)
            await rate_limits.check_client(limited.rule, scope, limited.refuse)
        await next_app(scope, receive, send)
