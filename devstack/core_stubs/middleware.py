"""The one middleware in front of every service route: count the call, inject chaos, check the
bearer, in that order, so a faulted or refused call still counts."""

from __future__ import annotations

import asyncio
from typing import cast

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

from devstack.core_stubs.faults import error_json, inject_fault, send_json
from devstack.core_stubs.models import CallStats, ChaosSpec
from devstack.core_stubs.state import stubs_of


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class CoreServiceMiddleware(ASGIMiddleware):
    """Counts, injects chaos, then checks the bearer, so a faulted or refused call still counts."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        stubs = stubs_of(scope["litestar_app"])
        service: str = scope["route_handler"].opt["service"]
        template = scope["path_template"].removeprefix(f"/{service}")
        method = cast("HTTPScope", scope)["method"]
        _record_call(stubs.stats, service, f"{service} {method} {template}", scope)

        spec = stubs.chaos.get(service, ChaosSpec())
        delay_ms: float = stubs.latency_ms + spec.latency_ms
        delay_ms += stubs.chaos_rng.uniform(0, spec.jitter_ms) if spec.jitter_ms else 0
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        if spec.error_rate and stubs.chaos_rng.random() < spec.error_rate:
            await inject_fault(spec, receive, send, stubs.chaos_rng)
            return

        authorization = _header(scope, b"authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            body = error_json(401, "a bearer token is required")
            await send_json(send, 401, body, (b"www-authenticate", b"Bearer"))
            return
        await next_app(scope, receive, send)


def _record_call(stats: CallStats, service: str, call: str, scope: Scope) -> None:
    stats.calls[call] = stats.calls.get(call, 0) + 1
    for name, seen in (
        (b"traceparent", stats.last_traceparent),
        (b"x-deadline-ms", stats.last_deadline_ms),
        (b"x-request-id", stats.last_request_id),
    ):
        if (value := _header(scope, name)) is not None:
            seen[service] = value
