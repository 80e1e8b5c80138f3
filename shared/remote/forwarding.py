"""One remote API's call path: from the caller's request to the upstream's streamed answer.

The pieces are the core clients' (``core_clients``): the breaker, the retry budget with jittered
backoff, the policy's timeouts, the deadline; what differs is that nothing is decoded. The body
goes up as it arrives and the answer comes back as it is read, so a 100 MB upload or download
keeps the gateway's memory flat::

    deadline: min(request deadline, api.timeout)     -- until the upstream's answer starts
     └── attempt 1..retries+1     one CLIENT span each, named by the route template
          ├── breaker.acquire()       open -> RemoteApiBreakerOpen, nothing sent
          ├── send (stream=True)      allowed headers, Authorization, X-Request-Id,
          │                           X-Deadline-Ms, traceparent; the body as it arrives
          └── no answer?              refused, reset, timeout: another attempt only for a
                                      GET, HEAD, OPTIONS or DELETE without a body (nothing to
                                      send twice), inside the budget and the time left
     answer: status and headers now, the body streamed (raw: as encoded upstream), each
     read bounded by the API's timeout; the upstream connection closes when the caller goes

Any answer is passed through and counts for the breaker as the core services' do: a 502, 503
or 504 is a failure, anything else a success. ``http.client.request.duration`` (to the answer's
start) is labelled ``bff.remote.api`` with the API's name.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import httpx
from opentelemetry import propagate
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue

from core_clients.breaker import BreakerPermit, BreakerTransitionHook, CircuitBreaker
from core_clients.policy import ServicePolicy
from core_clients.retry import RetryBudget, full_jitter_backoff
from core_clients.wire import RequestAuthorization
from shared.platform import metrics as bff_metrics
from shared.platform.clock import SYSTEM_CLOCK, Clock
from shared.platform.deadline import Deadline, current_deadline
from shared.platform.logging import get_logger
from shared.platform.remote_api_settings import RemoteApiSettings
from shared.platform.telemetry import child_span, mark_error, record_client_attempt
from shared.platform.tls import tls_failure_reason
from shared.remote.errors import (
    RemoteApiBadGateway,
    RemoteApiBreakerOpen,
    RemoteApiCallerGone,
    RemoteApiError,
    RemoteApiTimeout,
    RemoteApiUnavailable,
)
from shared.remote.headers import DEFAULT_FORWARDED, request_headers, response_headers

CONNECT_TIMEOUT_S: Final = 3.0
RETRIED_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
"""Idempotent (RFC 9110 9.2.2) and, without a body, safe to send again as they were."""
_FAILED_ANSWERS: Final = frozenset({502, 503, 504})

_logger = get_logger("bff.remote")


@dataclass(frozen=True, slots=True)
class OutgoingCall:
    """What the caller asked, already stripped of the gateway's own path prefix."""

    method: str
    path: str
    """The rest of the path after the API's prefix, as sent (percent-encoding kept)."""
    query: bytes
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes] | None
    """None when the caller sent no body."""
    authorization: RequestAuthorization | None
    """Made into headers again for each attempt: a DPoP proof is good for one request."""
    request_id: str | None


@dataclass(frozen=True, slots=True)
class UpstreamAnswer:
    """The upstream's status and the headers that go back; the body is read as it is sent."""

    status: int
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]]


class _NoAnswer(Exception):
    """Internal: this attempt got no answer; carries the error and whether to try again."""

    def __init__(self, error: RemoteApiError, transient: bool) -> None:
        super().__init__(error.detail)
        self.error = error
        self.transient = transient


def policy_for(api: RemoteApiSettings) -> ServicePolicy:
    """The core services' policy type, filled from the API's declaration."""
    return ServicePolicy(
        connect_timeout=min(CONNECT_TIMEOUT_S, api.timeout_s),
        read_timeout=api.timeout_s,
        total_timeout=api.timeout_s,
        max_attempts=api.retries + 1,
    )


class RemoteApi:
    """One declared API: its HTTP client, breaker and retry budget."""

    def __init__(
        self,
        settings: RemoteApiSettings,
        http: httpx.AsyncClient,
        *,
        clock: Clock = SYSTEM_CLOCK,
        on_breaker_transition: BreakerTransitionHook | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.http = http
        self.policy = policy_for(settings)
        self.breaker = CircuitBreaker(
            f"remote:{settings.name}",
            self.policy,
            on_transition=on_breaker_transition,
            clock=clock.monotonic,
        )
        self.retry_budget = RetryBudget.for_policy(self.policy, clock=clock.monotonic)
        self.allowed_headers = DEFAULT_FORWARDED | frozenset(settings.forward_headers)
        self.route_template = f"{settings.path}/{{path}}"
        upstream = httpx.URL(settings.upstream)
        self._peer: dict[str, AttributeValue] = {
            "bff.remote.api": settings.name,
            "server.address": upstream.host,
        }
        if upstream.port is not None:
            self._peer["server.port"] = upstream.port

    async def forward(self, call: OutgoingCall) -> UpstreamAnswer:
        """The upstream's answer to ``call``, its body still to be read; or a ``RemoteApiError``."""
        seconds = self.policy.total_timeout
        request_deadline = current_deadline()
        if request_deadline is not None:
            seconds = min(seconds, request_deadline.remaining())
        if seconds <= 0:
            raise RemoteApiTimeout(self.name, f"{self.name}: no time left before the deadline")
        deadline = Deadline.after(seconds)
        retried = call.method in RETRIED_METHODS and call.body is None
        self.retry_budget.deposit()
        scope = asyncio.timeout(seconds)
        try:
            async with scope:
                return await self._attempts(call, deadline, retried, scope)
        except TimeoutError as exc:
            if not scope.expired():
                raise
            raise RemoteApiTimeout(self.name, f"{self.name} did not answer in time") from exc

    async def _attempts(
        self, call: OutgoingCall, deadline: Deadline, retried: bool, scope: asyncio.Timeout
    ) -> UpstreamAnswer:
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                return await self._attempt(call, deadline, attempt, scope)
            except _NoAnswer as failure:
                error, transient, cause = failure.error, failure.transient, failure.__cause__
            delay = full_jitter_backoff(attempt, self.policy)
            if (
                not (retried and transient)
                or attempt >= self.policy.max_attempts
                or delay >= deadline.remaining()
                or not self.retry_budget.try_spend()
            ):
                raise error from cause
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _attempt(
        self, call: OutgoingCall, deadline: Deadline, attempt: int, scope: asyncio.Timeout
    ) -> UpstreamAnswer:
        name = f"{call.method} {self.route_template}"
        with child_span(name, kind=SpanKind.CLIENT, answers=(Exception,)) as span:
            permit = self.breaker.acquire()
            if span.is_recording():
                span.set_attributes(self._peer)
                span.set_attribute("http.request.method", call.method)
                span.set_attribute("bff.retry.attempt", attempt)
                span.set_attribute("bff.breaker.state", self.breaker.state.value)
            if permit is None:
                bff_metrics.BREAKER_REJECTIONS.add(1, {"bff.core.service": self.breaker.service})
                mark_error(span, "BreakerOpen")
                raise RemoteApiBreakerOpen(self.name, f"{self.name} is unavailable (circuit open)")
            request = self._build(call, deadline)  # inside the span: traceparent names it
            return await self._exchange(span, request, permit, scope)

    def _build(self, call: OutgoingCall, deadline: Deadline) -> httpx.Request:
        remaining = deadline.remaining()
        headers = request_headers(call.headers, self.allowed_headers)
        if not any(name.lower() == "accept-encoding" for name, _ in headers):
            # The body is passed on as the upstream encodes it: ask for none the caller did not.
            headers.append(("accept-encoding", "identity"))
        extra: dict[str, str] = {"x-deadline-ms": str(int(remaining * 1000))}
        url = httpx.URL(self.settings.upstream + call.path)
        if call.query:
            url = url.copy_with(query=call.query)
        if call.authorization is not None:
            presented = call.authorization.headers(call.method, str(url))
            extra.update((name.lower(), value) for name, value in presented.items())
        if call.request_id:
            extra["x-request-id"] = call.request_id
        propagate.inject(extra)
        return self.http.build_request(
            call.method,
            url,
            headers=[*headers, *extra.items()],
            content=call.body,
            timeout=httpx.Timeout(
                self.policy.read_timeout,
                connect=min(self.policy.connect_timeout, remaining),
                pool=remaining,
            ),
        )

    async def _exchange(
        self, span: Span, request: httpx.Request, permit: BreakerPermit, scope: asyncio.Timeout
    ) -> UpstreamAnswer:
        started = time.perf_counter()
        status: int | None = None
        error_type: str | None = None
        judged = False
        try:
            try:
                response = await self.http.send(request, stream=True)
            except httpx.HTTPError as exc:
                error, transient = self._no_answer(exc)
                error_type = (
                    "timeout" if isinstance(error, RemoteApiTimeout) else type(exc).__name__
                )
                self.breaker.record_failure(permit)
                judged = True
                raise _NoAnswer(error, transient) from exc
            status = response.status_code
            if status in _FAILED_ANSWERS:
                self.breaker.record_failure(permit)
            else:
                self.breaker.record_success(permit)
            judged = True
            return UpstreamAnswer(
                status=status,
                headers=response_headers(
                    response.headers.multi_items(),
                    base_url=self.settings.upstream,
                    local_path=self.settings.path,
                ),
                body=self._body(response),
                close=response.aclose,
            )
        except RemoteApiCallerGone:
            # httpx closed the half-sent upstream connection; a disconnect is no fault to trace.
            error_type = "caller_gone"
            _logger.info("remote_api_caller_gone", api=self.name, method=request.method)
            raise
        except asyncio.CancelledError:
            error_type = "cancelled"
            if scope.expired():  # the upstream used up all the time the call had
                error_type = "timeout"
                self.breaker.record_failure(permit)
                judged = True
            raise
        finally:
            if not judged:
                # Cancelled, or the caller's body failed (too large, caller gone): the upstream
                # is not to blame.
                self.breaker.release(permit)
            record_client_attempt(span, self._peer, request.method, started, status, error_type)

    async def _body(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The answer's bytes as they arrive; a break mid-way is logged and ends the stream
        with an error, so the caller sees a cut body, never a short one that looks whole."""
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            _logger.warning("remote_answer_broken", api=self.name, error_type=type(exc).__name__)
            raise
        finally:
            await response.aclose()

    def _no_answer(self, exc: httpx.HTTPError) -> tuple[RemoteApiError, bool]:
        """A transport failure as (error, worth another attempt)."""
        name = self.name
        tls_reason = tls_failure_reason(exc)
        if tls_reason is not None:
            _logger.error("remote_tls_failed", api=name, tls_reason=tls_reason)
            return RemoteApiBadGateway(name, f"{name}: the upstream's TLS was refused"), False
        if isinstance(exc, httpx.TimeoutException):
            return RemoteApiTimeout(name, f"{name} did not answer in time"), True
        if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
            return RemoteApiUnavailable(name, f"{name} is unavailable"), True
        return RemoteApiBadGateway(name, f"{name} did not answer in HTTP"), False
