"""One error hierarchy for both gateways, and the one handler that renders it.

Every error a client sees is ``application/problem+json`` (RFC 9457) with ``type``, ``title``,
``status``, ``detail`` and ``traceId``. Nothing from a downstream body, no stack trace, token or
internal host name is ever put into ``detail``: the text comes from the raise site, which is our
own code.

    GatewayError
     ├── BadRequest              400
     ├── Unauthenticated         401
     │    └── StepUpRequired     401   (a recent login is needed; ``loginUrl`` says how)
     ├── Forbidden               403
     ├── NotFound                404
     ├── Conflict                409
     ├── UnsupportedMediaType    415
     ├── Unprocessable           422
     ├── UpgradeRequired         426
     ├── TooManyRequests         429   (with Retry-After)
     ├── NotReady                503
     ├── RemoteApiFailed         502   (a remote API: TLS refused, not HTTP)
     ├── RemoteApiUnavailable    503   (a remote API: unreachable, breaker open, no token)
     ├── RemoteApiTimeout        504   (a remote API: no answer in time)
     └── CoreError               502   (core_clients; CoreTimeout also by the screen gather)
          ├── CoreBadResponse    502
          ├── CoreRejected       502
          ├── CoreNotFound       404
          ├── CoreUnavailable    503
          └── CoreTimeout        504
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from opentelemetry import trace
from redis.exceptions import RedisError

from shared.platform.logging import get_logger
from shared.platform.tls import tls_log_fields

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "/problems/"
RETRY_AFTER_S = 5
"""What every 503 tells the client to wait before trying again (``Retry-After``, RFC 9110 10.2.3).

A 503 here means a dependency is away (Redis, the IdP, a core service behind an open breaker):
a paused or restarting Redis is back, or a breaker half-opens, within a few seconds, and a
client that waits that long instead of hammering the gateway helps it come back."""

_logger = get_logger("bff.errors")


class GatewayError(Exception):
    """Base of every error the gateways raise on purpose."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers: dict[str, str] = dict(headers or {})
        self.extra: dict[str, Any] = dict(extra or {})


class BadRequest(GatewayError):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class Unauthenticated(GatewayError):
    status = 401
    slug = "unauthenticated"
    title = "Authentication required"


class StepUpRequired(Unauthenticated):
    """Signed in, but the route needs a more recent login; ``extra`` carries ``loginUrl``."""

    slug = "step-up-required"
    title = "A recent login is required"


class Forbidden(GatewayError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(GatewayError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(GatewayError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class UnsupportedMediaType(GatewayError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class Unprocessable(GatewayError):
    status = 422
    slug = "unprocessable"
    title = "The request cannot be carried out"


class UpgradeRequired(GatewayError):
    status = 426
    slug = "upgrade-required"
    title = "Upgrade required"


class TooManyRequests(GatewayError):
    status = 429
    slug = "too-many-requests"
    title = "Too many requests"


class NotReady(GatewayError):
    status = 503
    slug = "not-ready"
    title = "Service not ready"


class RemoteApiFailed(GatewayError):
    """A remote API (``shared.remote``) gave no usable answer; its own answers pass through."""

    status = 502
    slug = "remote-api-failed"
    title = "A remote API failed"


class RemoteApiUnavailable(GatewayError):
    status = 503
    slug = "remote-api-unavailable"
    title = "A remote API is unavailable"


class RemoteApiTimeout(GatewayError):
    status = 504
    slug = "remote-api-timeout"
    title = "A remote API did not answer in time"


class CoreError(GatewayError):
    """A core service call failed; ``service`` names which one (never its host)."""

    status = 502
    slug = "core-error"
    title = "A core service failed"

    def __init__(
        self,
        service: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or f"{service}: {self.title.lower()}", headers=headers, extra=extra)
        self.service = service


class CoreBadResponse(CoreError):
    status = 502
    slug = "core-bad-response"
    title = "A core service gave an answer that is not its contract"


class CoreRejected(CoreError):
    status = 502
    slug = "core-rejected"
    title = "A core service rejected the request"


class CoreNotFound(CoreError):
    status = 404
    slug = "not-found"
    title = "Not found"


class CoreUnavailable(CoreError):
    status = 503
    slug = "core-unavailable"
    title = "A core service is unavailable"


class CoreTimeout(CoreError):
    status = 504
    slug = "core-timeout"
    title = "A core service did not answer in time"


_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("too-many-requests", "Too many requests"),
}


def current_trace_id() -> str:
    """The trace id of the active span as 32 hex digits, or "" when there is none."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def unavailable_headers(headers: Mapping[str, str] | None, status: int) -> dict[str, str]:
    """``headers`` plus ``Retry-After`` when ``status`` is 503 and the raise site set none:
    the one rule every 503 answer of both gateways follows (problems, OAuth errors, pages)."""
    result = dict(headers or {})
    if status == 503 and not any(name.lower() == "retry-after" for name in result):
        result["retry-after"] = str(RETRY_AFTER_S)
    return result


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response[bytes]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "traceId": current_trace_id(),
    }
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=unavailable_headers(headers, status),
    )


def handle_gateway_error(_: Request[Any, Any, Any], exc: GatewayError) -> Response[bytes]:
    return problem_response(
        exc.status, exc.slug, exc.title, exc.detail, headers=exc.headers, extra=exc.extra
    )


def handle_http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """Litestar's own errors (routing, validation, 405…) in the same problem format."""
    status = exc.status_code
    slug, title = _HTTP_TITLES.get(status, ("http-error", "HTTP error"))
    if status >= 500:
        # Litestar raises 5xx HTTPExceptions only for internal faults: never echo their text.
        _logger.error("internal_http_exception", status=status, exc_info=exc)
        return problem_response(500, "internal-error", "Internal error", "Internal error")
    detail = exc.detail if isinstance(exc.detail, str) and status != 500 else title
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        extra["errors"] = [
            {"key": e.get("key"), "message": e.get("message")}
            for e in exc.extra
            if isinstance(e, dict)
        ]
        detail = "The request is not valid"
    return problem_response(status, slug, title, detail, headers=exc.headers, extra=extra)


def handle_store_unavailable(_: Request[Any, Any, Any], exc: RedisError) -> Response[bytes]:
    """Redis (sessions, cache locks) unreachable: a 503 the client may retry, not a 500."""
    _logger.error(
        "state_store_unavailable",
        service="redis",
        error_type=type(exc).__name__,
        **tls_log_fields(exc),
    )
    return problem_response(
        503, "store-unavailable", "Service unavailable", "The session store is unavailable"
    )


def handle_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Any bug becomes a bare 500 problem; the traceback goes to the log, once."""
    _logger.error("unhandled_exception", exc_info=exc)
    return problem_response(500, "internal-error", "Internal error", "Internal error")


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    GatewayError: handle_gateway_error,
    HTTPException: handle_http_exception,
    RedisError: handle_store_unavailable,
    Exception: handle_unexpected,
}
