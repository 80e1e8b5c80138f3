"""The one middleware in front of every service route: count the call, inject chaos, check the
token (a bearer, or a DPoP-bound token with its proof: ``devstack.core_stubs.dpop``), in that
order, so a faulted or refused call still counts."""

from __future__ import annotations

import asyncio
from typing import cast

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

from devstack.core_stubs.dpop import Refusal, bound_jkt, check_dpop_request, refusal
from devstack.core_stubs.faults import error_json, inject_fault, send_json
from devstack.core_stubs.models import CallStats, ChaosSpec
from devstack.core_stubs.state import StubState, stubs_of


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

        refusal = _check_token(stubs, service, cast("HTTPScope", scope))
        if refusal is not None:
            await send_json(send, 401, error_json(401, refusal.detail), *refusal.headers)
            return
        await next_app(scope, receive, send)


def _check_token(stubs: StubState, service: str, scope: HTTPScope) -> Refusal | None:
    authorization = _header(scope, b"authorization") or ""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() == "dpop" and token:
        jkt, refused = check_dpop_request(
            token,
            _header(scope, b"dpop"),
            method=scope["method"],
            url=_request_url(scope),
            seen=stubs.seen_proofs,
            nonce=stubs.dpop_nonce,
        )
        if refused is None:
            stubs.stats.last_dpop_jkt[service] = jkt
            return None
        stubs.stats.dpop_refusals += 1
        return refused
    if scheme.lower() != "bearer" or not token:
        return Refusal("a bearer token is required", ((b"www-authenticate", b"Bearer"),))
    if bound_jkt(token) is not None:
        stubs.stats.dpop_refusals += 1
        return refusal("invalid_token", "a DPoP-bound token needs the DPoP scheme")
    return None


def _request_url(scope: HTTPScope) -> str:
    """The URL as the caller addressed it (``Host`` and the raw path), for ``htu``."""
    host = _header(scope, b"host") or "localhost"
    path = scope.get("raw_path") or scope["path"].encode()
    return f"{scope['scheme']}://{host}{path.decode('latin-1')}"


def _record_call(stats: CallStats, service: str, call: str, scope: Scope) -> None:
    stats.calls[call] = stats.calls.get(call, 0) + 1
    for name, seen in (
        (b"traceparent", stats.last_traceparent),
        (b"x-deadline-ms", stats.last_deadline_ms),
        (b"x-request-id", stats.last_request_id),
    ):
        if (value := _header(scope, name)) is not None:
            seen[service] = value
