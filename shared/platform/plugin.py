"""``GatewayPlugin``: the wiring both gateways share, so each ``app.py`` stays a screenful.

It owns the lifespan of the shared resources (the Redis client when configured, the HTTP client
for the identity provider, and whatever extra resources a gateway registers, such as the core
service clients), the problem+json error handlers, logging, telemetry, the health and metrics
endpoints and the OpenAPI document. Resources live on ``app.state`` and are closed in ``finally``.

``GET /metrics`` (Prometheus text) is never public by accident: with ``BFF_METRICS_TOKEN`` set it
needs ``Authorization: Bearer <token>``; without one it answers loopback callers in dev only and
is a 404 in prod. It is a 404 too when Prometheus is not among ``OTEL_METRICS_EXPORTER``.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import msgspec
from litestar import Litestar, Response, Router, get
from litestar.config.app import AppConfig
from litestar.datastructures import Headers, State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.plugins import InitPlugin
from litestar.types import Scope
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis, RedisCluster

from shared.platform.after_answer import AfterAnswerMiddleware
from shared.platform.client_address import ClientAddresses
from shared.platform.clock import SYSTEM_CLOCK, Clock
from shared.platform.errors import EXCEPTION_HANDLERS, NotFound, NotReady, Unauthenticated
from shared.platform.keys import KeyedHasher
from shared.platform.logging import configure_logging, get_logger
from shared.platform.openapi import ProblemDocumentingJsonPlugin
from shared.platform.rate_limits import (
    RATE_LIMITS,
    RateLimits,
    close_rate_limit_storage,
    rate_limit_storage,
)
from shared.platform.redis import RedisClient, create_redis_client
from shared.platform.request_context import RequestContextMiddleware
from shared.platform.route_policy import PUBLIC_ROUTE
from shared.platform.server_span import ServerSpanMiddleware
from shared.platform.settings import Settings
from shared.platform.state import Injected, StateSlot
from shared.platform.telemetry import configure_telemetry, prometheus_registry
from shared.platform.tls import tls_log_fields

ResourceFactory = Callable[[Litestar], AbstractAsyncContextManager[None]]

SETTINGS = StateSlot("settings", Settings)
KEYS = StateSlot("keys", KeyedHasher)
# Clock is a runtime-checkable Protocol: the slot checks structure, mypy calls it abstract.
CLOCK: StateSlot[Clock] = StateSlot("clock", Clock)  # type: ignore[type-abstract]
CLIENT_ADDRESSES = StateSlot("client_addresses", ClientAddresses)

_logger = get_logger("bff.plugin")
_READY_CHECK_TIMEOUT_S = 2.0


class HealthStatus(msgspec.Struct):
    status: str
    checks: dict[str, str] = {}


@get("/health/live", include_in_schema=False, sync_to_thread=False, opt=PUBLIC_ROUTE)
def live() -> HealthStatus:
    """The process is up and serving; says nothing about its dependencies."""
    return HealthStatus(status="ok")


@get("/health/ready", include_in_schema=False, opt=PUBLIC_ROUTE)
async def ready(readiness: Injected[Readiness]) -> HealthStatus:
    """Ready means this instance can log users in and keep their sessions: Redis and the IdP."""
    checks = await readiness.run()
    failed = sorted(name for name, result in checks.items() if result != "ok")
    if failed:
        raise NotReady(
            f"not ready: {', '.join(failed)}", extra={"failed": failed, "checks": checks}
        )
    return HealthStatus(status="ready", checks=checks)


@get("/metrics", include_in_schema=False, sync_to_thread=False, opt=PUBLIC_ROUTE)
def prometheus_metrics(
    settings: Injected[Settings],
    client_addresses: Injected[ClientAddresses],
    headers: Headers,
    scope: Scope,
) -> Response[bytes]:
    """The Prometheus text exposition of the gateway's OpenTelemetry instruments."""
    registry = prometheus_registry()
    if registry is None:
        raise NotFound("Not found")
    if settings.metrics_token is not None:
        sent = headers.get("authorization", "")
        expected = f"Bearer {settings.metrics_token}"
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise Unauthenticated(
                "A bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
    elif settings.is_prod or not _is_loopback(client_addresses, scope):
        raise NotFound("Not found")
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _is_loopback(client_addresses: ClientAddresses, scope: Scope) -> bool:
    """The caller, as the rate limits see it (a trusted proxy on this machine does not make
    every client it forwards a local one), is this machine."""
    address = client_addresses.of(scope)
    return address is not None and address.is_loopback


class Readiness:
    """The checks behind ``/health/ready``; each layer adds its own (Redis here, the IdP in
    the identity layer). A check answers True when its dependency is usable; its reason for
    failing is logged, never returned."""

    def __init__(self) -> None:
        self._checks: dict[str, Callable[[], Awaitable[bool]]] = {}

    def add(self, name: str, check: Callable[[], Awaitable[bool]]) -> None:
        self._checks[name] = check

    async def run(self) -> dict[str, str]:
        names = list(self._checks)
        results = await asyncio.gather(*(self._checks[name]() for name in names))
        outcomes = zip(names, results, strict=True)
        return {name: "ok" if ok else "unavailable" for name, ok in outcomes}


def redis_check(redis: RedisClient) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        try:
            async with asyncio.timeout(_READY_CHECK_TIMEOUT_S):
                await redis.ping()
        except Exception as exc:  # any failure means "not ready"; the reason is logged only
            _logger.warning("ready_check_failed", check="redis", **tls_log_fields(exc))
            return False
        return True

    return check


READINESS = StateSlot("readiness", Readiness)


def redis_client(state: State) -> RedisClient | None:
    """The gateway's Redis client, or None when it runs on in-process stores."""
    redis = state.get("redis")
    if redis is not None and not isinstance(redis, Redis | RedisCluster):
        raise TypeError("state['redis'] is not a Redis client")
    return redis


def provide_request_id(scope: Scope) -> str:
    """The request id ``RequestContextMiddleware`` took or made for this request."""
    state: dict[str, Any] = scope.get("state", {})
    return str(state.get("request_id", ""))


GC_THRESHOLDS = (20_000, 10, 10)
"""Generation-0 collections every 20,000 net allocations instead of 700: a request allocates a
few thousand short-lived objects, which reference counting frees; the default made the cyclic
collector run several times per request (about a sixth of a cached screen's CPU). The older
generations keep the default ratios (10, 10), so a full collection still comes in a long-running
process."""


def settle_garbage_collector() -> None:
    """Once start-up is done: move what it built (modules, app, clients) out of the collector's
    sight (``gc.freeze``), so collections only walk what requests allocate, and collect less
    often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class GatewayPlugin(InitPlugin):
    """Shared wiring for a gateway; ``resources`` are extra lifespan context managers."""

    def __init__(
        self,
        settings: Settings,
        resources: Sequence[ResourceFactory] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self.resources = tuple(resources)
        self.clock = clock

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        configure_logging(self.settings.log_level, self.settings.log_format)
        configure_telemetry(self.settings.otel)
        app_config.lifespan = [*app_config.lifespan, self._lifespan]
        app_config.route_handlers = [*app_config.route_handlers, live, ready, prometheus_metrics]
        app_config.exception_handlers = {**EXCEPTION_HANDLERS, **app_config.exception_handlers}
        app_config.dependencies = {
            **app_config.dependencies,
            "settings": SETTINGS.provide(),
            "keys": KEYS.provide(),
            "clock": CLOCK.provide(),
            "request_id": Provide(provide_request_id, sync_to_thread=False),
            "readiness": READINESS.provide(),
            "client_addresses": CLIENT_ADDRESSES.provide(),
            "rate_limits": RATE_LIMITS.provide(),
        }
        state = State({"redis": None})
        READINESS.fill(state, Readiness())
        SETTINGS.fill(state, self.settings)
        CLOCK.fill(state, self.clock)
        KEYS.fill(state, KeyedHasher(self.settings.secret_key, self.settings.secret_key_previous))
        CLIENT_ADDRESSES.fill(
            state,
            ClientAddresses(self.settings.trusted_proxies, self.settings.trusted_proxy_header),
        )
        app_config.state = state
        # The schema maps every endpoint and parameter for an attacker too: in production it is
        # served only when BFF_OPENAPI=true says so (the settings default it off there). The
        # document describes the public API: when it is served, anyone may read it.
        app_config.openapi_config = (
            OpenAPIConfig(
                title=f"BFF {self.settings.gateway}",
                version="1.0.0",
                path="/schema",
                render_plugins=[ProblemDocumentingJsonPlugin()],
                openapi_router=Router(
                    path="/schema", route_handlers=[], opt=PUBLIC_ROUTE, include_in_schema=False
                ),
            )
            if self.settings.openapi_enabled
            else None
        )
        return app_config

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if self.settings.redis_url is not None:
                redis = create_redis_client(
                    self.settings.redis_url, self.settings.redis_mode, self.settings.redis_tls
                )
                stack.push_async_callback(redis.aclose)
                app.state.redis = redis
                READINESS.get(app.state).add("redis", redis_check(redis))
            storage = rate_limit_storage(self.settings, app.state.redis)
            stack.push_async_callback(close_rate_limit_storage, storage)
            RATE_LIMITS.fill(
                app.state,
                RateLimits(
                    storage,
                    self.settings,
                    KEYS.get(app.state),
                    CLIENT_ADDRESSES.get(app.state),
                ),
            )
            for resource in self.resources:
                await stack.enter_async_context(resource(app))
            settle_garbage_collector()
            _logger.info("gateway_started", gateway=self.settings.gateway)
            yield
        _logger.info("gateway_stopped", gateway=self.settings.gateway)


def build_gateway_app(
    settings: Settings,
    *,
    route_handlers: Sequence[Any],
    resources: Sequence[ResourceFactory] = (),
    clock: Clock = SYSTEM_CLOCK,
    **litestar_options: Any,
) -> Litestar:
    """The one place a gateway's Litestar app is assembled.

    Server-span, request-id and access-log middleware wrap the whole ASGI handler (not just the
    matched routes) so unknown paths and Litestar's own errors are covered too. The server span
    is outermost, so the access line carries its trace and span ids. Innermost, work held for
    after the answer (``after_answer``) starts as soon as the response has been sent.
    """
    app = Litestar(
        route_handlers=list(route_handlers),
        plugins=[GatewayPlugin(settings, resources, clock)],
        debug=False,
        logging_config=None,  # structlog (configure_logging) owns logging, not Litestar's default
        **litestar_options,
    )
    app.asgi_handler = ServerSpanMiddleware(
        RequestContextMiddleware(AfterAnswerMiddleware(app.asgi_handler))
    )
    return app
