"""The app factory: the four services, each under its prefix behind the middleware, and the
control routes, over one ``StubState``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException

from devstack.core_stubs.control import CONTROL_ROUTES
from devstack.core_stubs.echo import ECHO_ROUTES
from devstack.core_stubs.faults import QuietDeliberateResets
from devstack.core_stubs.images import IMAGE_ROUTES
from devstack.core_stubs.middleware import CoreServiceMiddleware
from devstack.core_stubs.models import ChaosSpec, ErrorBody
from devstack.core_stubs.seed import PRODUCT_COUNT, make_product
from devstack.core_stubs.services import SERVICE_ROUTES, SERVICES
from devstack.core_stubs.state import StubState, provide_stubs


def _error_response(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    """One error shape for every refusal, including Litestar's own 400s and 404s."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    details = [f"{p.get('key')}: {p.get('message')}" for p in problems if isinstance(p, dict)]
    body = ErrorBody(
        exc.status_code, HTTPStatus(exc.status_code).phrase, "; ".join([exc.detail, *details])
    )
    return Response(body, status_code=exc.status_code, headers=exc.headers)


def create_stubs_app(
    *,
    seed: int = 42,
    latency_ms: int = 0,
    chaos: Mapping[str, ChaosSpec] | None = None,
    dpop_nonce: str | None = None,
) -> Litestar:
    """Build the four stand-in services.

    ``latency_ms`` is the network and work time every call costs (benchmarks set it so a cache has
    something to save); it is not a fault, so ``DELETE /_chaos`` keeps it. ``chaos`` is the fault
    set-up to start with, as if ``PUT /_chaos/{service}`` had been called for each entry.
    ``dpop_nonce``: every DPoP proof must carry it (RFC 9449 section 9).
    """
    unknown = sorted(set(chaos or {}) - set(SERVICES))
    if unknown:
        raise ValueError(f"chaos for unknown services {unknown}; known: {', '.join(SERVICES)}")
    if latency_ms < 0:
        raise ValueError("latency_ms must not be negative")
    state = StubState(
        seed=seed,
        latency_ms=latency_ms,
        chaos=dict(chaos or {}),
        catalog={str(n): make_product(seed, str(n)) for n in range(1, PRODUCT_COUNT + 1)},
        dpop_nonce=dpop_nonce,
    )
    counted_and_guarded = CoreServiceMiddleware()
    services = [
        Router(
            f"/{name}",
            route_handlers=handlers,
            middleware=[counted_and_guarded],
            opt={"service": name},
        )
        for name, handlers in SERVICE_ROUTES.items()
    ]
    server_log = logging.getLogger("uvicorn.error")
    quiet_resets = QuietDeliberateResets()
    return Litestar(
        route_handlers=[*services, *CONTROL_ROUTES, *IMAGE_ROUTES, *ECHO_ROUTES],
        state=State({"stubs": state}),
        dependencies={"stubs": Provide(provide_stubs, sync_to_thread=False)},
        exception_handlers={HTTPException: _error_response},
        on_startup=[lambda: server_log.addFilter(quiet_resets)],
        on_shutdown=[lambda: server_log.removeFilter(quiet_resets)],
        openapi_config=None,
    )
