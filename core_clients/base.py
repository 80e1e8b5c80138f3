"""The base of the per-service clients: one call path, and the one translator of its errors.

The pieces it puts together live beside it: ``policy`` (how hard to try), ``retry`` (backoff
and budget), ``breaker``, ``transport`` (the HTTP client) and ``wire`` (call context, wire
models), whose ``CallContext``, ``WireStruct``, ``Money`` and ``path_segment`` are importable
from here too, as every per-service client needs them.

One call through ``CoreClient._request``::

    deadline: min(request deadline, policy.total_timeout)   -- nothing outlives it
     └── attempt 1..max_attempts    one CLIENT span each (bff.retry.attempt, bff.breaker.state)
          ├── breaker.acquire()         open -> BreakerOpen, no network I/O
          ├── send                      bearer (or DPoP and a fresh proof), X-Request-Id,
          │                             X-Deadline-Ms, traceparent (the attempt's span, so the
          │                             service's spans hang under it); a DPoP use_dpop_nonce
          │                             challenge is answered once, with a new proof
          ├── map status / decode       into a msgspec Struct
          └── transient failure?        connect error, reset, timeout, 502/503/504: if the call is
                                        idempotent, the budget allows and time is left, sleep
                                        (full jitter) and try again. A TLS failure (untrusted,
                                        expired or mismatched certificate, refused client
                                        certificate) is not transient: 503 at once, logged
                                        with its reason, never retried, never without TLS

This module is the one translator at the boundary: whatever httpx, the transport or msgspec
raise leaves as a ``CoreError`` (``raise ... from exc``)::

    CoreError
     ├── CoreBadResponse     not the contract: garbage body, wrong content type, 1xx/3xx
     ├── CoreRejected        4xx other than 404
     │    └── UpstreamRejected   .upstream_status holds the 4xx
     ├── CoreNotFound        404
     ├── CoreUnavailable     connect error, reset, 5xx
     │    └── BreakerOpen    failed fast, nothing was sent
     └── CoreTimeout         a timeout, or the deadline ran out
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeVar

import aiohttp
import httpx
import msgspec
from opentelemetry import propagate
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue

from core_clients.breaker import BreakerPermit, BreakerTransitionHook, CircuitBreaker
from core_clients.policy import ServicePolicy
from core_clients.retry import RetryBudget, full_jitter_backoff
from core_clients.transport import CoreHttpClient
from core_clients.wire import CallContext, Money, WireStruct, path_segment
from shared.platform import metrics as bff_metrics
from shared.platform.clock import SYSTEM_CLOCK, Clock
from shared.platform.deadline import Deadline, current_deadline
from shared.platform.errors import (
    CoreBadResponse,
    CoreError,
    CoreNotFound,
    CoreRejected,
    CoreTimeout,
    CoreUnavailable,
)
from shared.platform.logging import get_logger
from shared.platform.telemetry import child_span, mark_error, record_client_attempt, safe_url
from shared.platform.tls import tls_failure_reason

__all__ = [
    "BreakerOpen",
    "CallContext",
    "CoreClient",
    "Money",
    "UpstreamRejected",
    "WireStruct",
    "path_segment",
]

T = TypeVar("T")

_logger = get_logger("bff.core")
_CLOSED_BEFORE_ANSWER: Final = (
    "the server closed the TLS connection before answering (as servers do that refuse the "
    "client certificate without a TLS alert)"
)

_RETRYABLE_STATUSES: Final = frozenset({502, 503, 504})
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_NONCE_HEADER: Final = "DPoP-Nonce"
_NONCE_ERROR: Final = "use_dpop_nonce"
_PERSONAL_PATH_SEGMENTS: Final = ("accounts",)
"""Path segments followed by the user's ``sub`` (``/v1/accounts/{sub}/orders``): in ``url.full``
the ``sub`` becomes ``{sub}``, so no personal data lands in a trace."""


class UpstreamRejected(CoreRejected):
    """A 4xx (other than 404) from a core service; callers may branch on ``upstream_status``."""

    def __init__(self, service: str, upstream_status: int, detail: str | None = None) -> None:
        super().__init__(service, detail or f"{service} rejected the request")
        self.upstream_status = upstream_status


class BreakerOpen(CoreUnavailable):
    """The service's circuit breaker is open: the call failed fast and sent nothing."""


class _Outcome(enum.Enum):
    SUCCESS = enum.auto()
    FAILURE = enum.auto()
    NONE = enum.auto()


class _Transient(Exception):
    """Internal: this attempt failed in a way a new attempt might not; carries the error."""

    def __init__(self, error: CoreError) -> None:
        super().__init__(error.detail)
        self.error = error


@dataclass(frozen=True, slots=True)
class _Call:
    method: str
    path: str
    ctx: CallContext
    params: dict[str, str | int] | None
    content: bytes | None
    headers: Mapping[str, str] | None
    deadline: Deadline


class CoreClient:
    """Base of the per-service clients. Subclasses set ``service`` and add typed methods."""

    service: ClassVar[str] = "core"

    def __init__(
        self,
        http: CoreHttpClient,
        policy: ServicePolicy | None = None,
        *,
        on_breaker_transition: BreakerTransitionHook | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.http = http
        self.policy = policy or ServicePolicy()
        self.breaker = CircuitBreaker(
            self.service, self.policy, on_transition=on_breaker_transition, clock=clock.monotonic
        )
        self.retry_budget = RetryBudget.for_policy(self.policy, clock=clock.monotonic)
        self._dpop_nonce: str | None = None
        """The service's latest ``DPoP-Nonce`` (RFC 9449 section 9), kept in this process."""
        self._peer: dict[str, AttributeValue] = {
            "bff.core.service": self.service,
            "server.address": http.base_url.host,
        }
        if http.base_url.port is not None:
            self._peer["server.port"] = http.base_url.port

    async def _request(
        self,
        method: str,
        path: str,
        *,
        ctx: CallContext,
        params: Mapping[str, str | int | None] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        decode_as: type[T],
    ) -> T:
        """One logical call: attempts, backoff and breaker, all inside the time the call has.

        ``idempotent=True`` allows retries. A GET is; a POST only when it carries an
        ``Idempotency-Key`` (the service then answers a repeat with the first result), which is
        checked here so a careless caller cannot turn a retry into a second order.
        """
        method = method.upper()
        if idempotent and method not in _SAFE_METHODS and not _has_idempotency_key(headers):
            raise ValueError(f"{method} {path} is retried only with an Idempotency-Key header")
        seconds = self.policy.total_timeout
        request_deadline = current_deadline()
        if request_deadline is not None:
            seconds = min(seconds, request_deadline.remaining())
        if seconds <= 0:
            raise CoreTimeout(self.service, f"{self.service}: no time left before the deadline")
        call = _Call(
            method=method,
            path=path,
            ctx=ctx,
            params=None if params is None else {k: v for k, v in params.items() if v is not None},
            content=None if json is None else msgspec.json.encode(json),
            headers=headers,
            deadline=Deadline.after(seconds),
        )
        self.retry_budget.deposit()
        scope = asyncio.timeout(seconds)
        try:
            async with scope:
                return await self._attempts(call, idempotent, scope, decode_as)
        except TimeoutError as exc:
            if not scope.expired():
                raise  # not ours; everything below is mapped, so this is a bug
            raise CoreTimeout(self.service, f"{self.service} did not answer in time") from exc

    async def _attempts(
        self, call: _Call, idempotent: bool, scope: asyncio.Timeout, decode_as: type[T]
    ) -> T:
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                return await self._attempt(call, attempt, scope, decode_as)
            except _Transient as failure:
                error, cause = failure.error, failure.__cause__
            delay = full_jitter_backoff(attempt, self.policy)
            if (
                not idempotent
                or attempt >= self.policy.max_attempts
                or delay >= call.deadline.remaining()
                or not self.retry_budget.try_spend()
            ):
                raise error from cause
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _attempt(
        self, call: _Call, attempt: int, scope: asyncio.Timeout, decode_as: type[T]
    ) -> T:
        # Errors are described by hand (status code or transport error), not by exception class.
        with child_span(call.method, kind=SpanKind.CLIENT, answers=(Exception,)) as span:
            permit = self.breaker.acquire()
            if span.is_recording():
                span.set_attributes(self._peer)
                span.set_attribute("bff.retry.attempt", attempt)
                span.set_attribute("bff.breaker.state", self.breaker.state.value)
                if attempt > 1:
                    span.set_attribute("http.request.resend_count", attempt - 1)
                if permit is not None and permit.probe:
                    span.set_attribute("bff.breaker.probe", True)
            if permit is None:
                bff_metrics.BREAKER_REJECTIONS.add(1, {"bff.core.service": self.service})
                mark_error(span, "BreakerOpen")
                raise BreakerOpen(self.service, f"{self.service} is unavailable (circuit open)")
            request = self._build(call)  # inside the span: the traceparent names this attempt
            if span.is_recording():
                span.set_attribute("http.request.method", call.method)
                url = safe_url(
                    str(request.url), _PERSONAL_PATH_SEGMENTS, base_path=self.http.base_url.path
                )
                span.set_attribute("url.full", url)
            return await self._exchange(span, call, request, permit, scope, decode_as)

    async def _exchange(
        self,
        span: Span,
        call: _Call,
        request: httpx.Request,
        permit: BreakerPermit,
        scope: asyncio.Timeout,
        decode_as: type[T],
    ) -> T:
        """Send, read, judge: the breaker learns the outcome, telemetry the status or error."""
        started = time.perf_counter()
        outcome = _Outcome.NONE
        status: int | None = None
        error_type: str | None = None
        try:
            try:
                response = await self._send(call, request)
            except asyncio.CancelledError:
                error_type = "cancelled"
                if scope.expired():
                    outcome = _Outcome.FAILURE  # the service used up all the time the call had
                    error_type = "timeout"
                raise
            except Exception as exc:
                # Whatever the transport raises, httpx or not, stops at this boundary.
                outcome = _Outcome.FAILURE
                error, transient = self._transport_error(exc)
                error_type = _transport_error_type(exc, error)
                if transient:
                    raise _Transient(error) from exc
                raise error from exc
            status = response.status_code
            try:
                result = self._read(response, decode_as)
            except _Transient:
                outcome = _Outcome.FAILURE
                raise
            except CoreError as error:
                outcome = _Outcome.SUCCESS if _is_answer(error) else _Outcome.FAILURE
                if status < 400:  # an answer outside the contract, such as a garbage body
                    error_type = type(error).__name__
                raise
            outcome = _Outcome.SUCCESS
            return result
        finally:
            if outcome is _Outcome.SUCCESS:
                self.breaker.record_success(permit)
            elif outcome is _Outcome.FAILURE:
                self.breaker.record_failure(permit)
            else:
                self.breaker.release(permit)
            self._record_attempt(span, request.method, started, status, error_type)

    async def _send(self, call: _Call, request: httpx.Request) -> httpx.Response:
        """Send; with a DPoP-bound token, keep the service's nonce, and answer its
        ``use_dpop_nonce`` challenge (a 401) once, with a new proof that carries it."""
        response = await self.http.exchange(request)
        nonce = response.headers.get(_NONCE_HEADER)
        if call.ctx.authorization is None or not nonce:
            return response
        self._dpop_nonce = nonce
        if response.status_code != 401 or _NONCE_ERROR not in response.headers.get(
            "www-authenticate", ""
        ):
            return response
        await response.aclose()
        return await self.http.exchange(self._build(call))

    def _record_attempt(
        self, span: Span, method: str, started: float, status: int | None, error_type: str | None
    ) -> None:
        record_client_attempt(span, self._peer, method, started, status, error_type)

    def _build(self, call: _Call) -> httpx.Request:
        remaining = call.deadline.remaining()
        headers: dict[str, str] = dict(call.headers or {})
        if call.ctx.access_token and call.ctx.authorization is None:
            headers["Authorization"] = f"Bearer {call.ctx.access_token}"
        if call.ctx.request_id:
            headers["X-Request-Id"] = call.ctx.request_id
        headers["X-Deadline-Ms"] = str(int(remaining * 1000))
        if call.content is not None:
            headers["Content-Type"] = "application/json"
        propagate.inject(headers)
        timeout = httpx.Timeout(
            min(self.policy.read_timeout, remaining),
            connect=min(self.policy.connect_timeout, remaining),
            pool=remaining,
        )
        request = self.http.build_request(
            call.method,
            call.path,
            params=call.params,
            content=call.content,
            headers=headers,
            timeout=timeout,
        )
        if call.ctx.authorization is not None:  # a proof names the request's full URL
            request.headers.update(
                call.ctx.authorization.headers(
                    call.method, str(request.url), nonce=self._dpop_nonce
                )
            )
        return request

    def _transport_error(self, exc: Exception) -> tuple[CoreError, bool]:
        """Map a transport-level failure to (error, worth another attempt)."""
        service = self.service
        tls_reason = tls_failure_reason(exc)
        if tls_reason is not None:
            _logger.error("core_tls_failed", service=service, tls_reason=tls_reason)
            return CoreUnavailable(service, f"{service} is unavailable"), False
        if self.http.base_url.scheme == "https" and _is_disconnect_before_answer(exc):
            # Transient as any disconnect, but the log says what it most likely was.
            _logger.warning("core_tls_failed", service=service, tls_reason=_CLOSED_BEFORE_ANSWER)
        if isinstance(exc, httpx.TimeoutException) and not _is_disguised_disconnect(exc):
            return CoreTimeout(service, f"{service} did not answer in time"), True
        if isinstance(exc, httpx.DecodingError):
            return CoreBadResponse(service, f"{service} sent a body that cannot be decoded"), False
        transient = isinstance(
            exc, httpx.NetworkError | httpx.RemoteProtocolError | httpx.TimeoutException
        )
        return CoreUnavailable(service, f"{service} is unavailable"), transient

    def _read(self, response: httpx.Response, decode_as: type[T]) -> T:
        """Status and body to a value, or the matching ``CoreError``."""
        service, status = self.service, response.status_code
        if status >= 500:
            error = CoreUnavailable(service, f"{service} is unavailable")
            if status in _RETRYABLE_STATUSES:
                raise _Transient(error)
            raise error
        if status == 404:
            raise CoreNotFound(service, f"{service}: not found")
        if status >= 400:
            raise UpstreamRejected(service, status)
        if status < 200 or status >= 300:
            raise CoreBadResponse(service, f"{service} answered outside its contract")
        content_type = response.headers.get("content-type", "application/json")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise CoreBadResponse(service, f"{service} did not answer with JSON")
        try:
            return msgspec.json.decode(response.content, type=decode_as)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
            raise CoreBadResponse(service, f"{service} answered outside its contract") from exc


def _is_answer(error: CoreError) -> bool:
    """A 404 or other 4xx means the service is up and talking: not a breaker failure."""
    return isinstance(error, CoreNotFound | CoreRejected)


def _is_disguised_disconnect(exc: httpx.TimeoutException) -> bool:
    """httpx-aiohttp maps every aiohttp connection error (refused, reset, server disconnected) to
    ``httpx.ConnectTimeout``; only a real timeout underneath makes it a timeout for us."""
    cause = exc.__cause__
    return (
        cause is not None
        and type(cause).__module__.startswith("aiohttp")
        and not isinstance(cause, TimeoutError)
    )


def _is_disconnect_before_answer(exc: Exception) -> bool:
    """The peer hung up (closed or reset) after connecting, before a status line: httpx's
    ``RemoteProtocolError`` or ``ReadError``, or aiohttp's disconnect or OS error (not a failure
    to connect) under httpx-aiohttp's ``ConnectTimeout``."""
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return True
    cause = exc.__cause__
    return isinstance(cause, aiohttp.ServerDisconnectedError) or (
        isinstance(cause, aiohttp.ClientOSError)
        and not isinstance(cause, aiohttp.ClientConnectorError)
    )


def _has_idempotency_key(headers: Mapping[str, str] | None) -> bool:
    return any(k.lower() == "idempotency-key" and v for k, v in (headers or {}).items())


def _transport_error_type(exc: Exception, error: CoreError) -> str:
    """``error.type`` of a failed send: ``timeout``, or what really failed underneath (httpx-aiohttp
    reports a refused or reset connection as a ``ConnectTimeout`` caused by aiohttp's error)."""
    if isinstance(error, CoreTimeout):
        return "timeout"
    cause = exc.__cause__ if isinstance(exc, httpx.TimeoutException) else None
    return type(cause or exc).__name__
