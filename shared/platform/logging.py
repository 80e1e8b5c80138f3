"""structlog set-up, the per-request context, and the redaction every log line passes through.

One ``configure_logging`` call: shared processors, then JSON (production, or whenever stdout is
not a terminal) or the console renderer (a developer's TTY). Every line carries the request id,
and the trace and span ids of the active span, so an SRE can go from a log line to its trace.
Secrets never reach the output: ``redact_secrets`` masks known secret fields by name and any value
that looks like a bearer token or a JWT, wherever it sits in the event.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Mapping, MutableMapping
from typing import Any

import msgspec
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import trace

REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
REDACTED = "[REDACTED]"
SECRET_FIELD_NAMES = frozenset(
    {
        "authorization",
        "cookie",
        "set-cookie",
        "set_cookie",
        "access_token",
        "refresh_token",
        "id_token",
        "id_token_hint",
        "logout_token",
        "token",
        "client_secret",
        "secret",
        "secret_key",
        "password",
        "code",
        "code_verifier",
        "state",
        "nonce",
        "session_id",
        "x-csrf-token",
        "proxy-authorization",
        "dpop",
        "client_assertion",
        "dpop_key",
        "api_key",
        "x-api-key",
    }
)
_SECRET_VALUE_PATTERNS = (
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*)?"),
    re.compile(r"(?i)\bdpop\s+[A-Za-z0-9._~+/=-]+"),
    # a private key in PEM, such as a session's DPoP key (to its end, or the text's)
    re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
    ),
)
_SECRET_PARAMETER = re.compile(
    r"(?i)(?<![A-Za-z0-9_.-])("
    r"code|state|nonce|code_verifier|access_token|refresh_token|id_token|id_token_hint|"
    r"logout_token|token|client_secret|password"
    r")=([^&\s#\"']+)"
)
"""A secret inside a URL or form body in a string (``/bff/callback?code=...&state=...``)."""
_MAYBE_SECRET = re.compile(r"(?i)bearer|dpop|eyJ|=|PRIVATE KEY")
"""What every secret-looking value above contains: one search lets the plain values of a log
line (methods, routes, ids, numbers) skip the substitutions."""


class _NamedPrintLogger(structlog.PrintLogger):
    """A print logger that knows its name, so ``add_logger_name`` can put it on each line."""

    def __init__(self, name: str) -> None:
        super().__init__(sys.stdout)
        self.name = name


def _named_print_logger_factory(*args: Any) -> _NamedPrintLogger:
    return _NamedPrintLogger(str(args[0]) if args else "bff")


def get_logger(name: str) -> Any:
    """A lazily configured structlog logger (tests' ``capture_logs`` sees it too)."""
    return structlog.get_logger(name)


_access_logger = get_logger("bff.access")


def _redact_value(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, str):
        if _MAYBE_SECRET.search(value) is None:
            return value
        for pattern in _SECRET_VALUE_PATTERNS:
            value = pattern.sub(REDACTED, value)
        return _SECRET_PARAMETER.sub(rf"\1={REDACTED}", value)
    if isinstance(value, bytes):  # a PEM key is bytes; whole or nothing, never half a secret
        text = value.decode("latin-1")
        return value if _redact_value(text, depth) == text else REDACTED
    if isinstance(value, Mapping):
        return {
            k: (
                REDACTED
                if isinstance(k, str) and k.lower() in SECRET_FIELD_NAMES
                else _redact_value(v, depth + 1)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v, depth + 1) for v in value)
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secret fields by name and secret-looking values anywhere.

    Numbers, booleans and ``None`` are passed over without a look: every line has several (an
    access line is half numbers), and this runs for every line."""
    for key, value in event_dict.items():  # replacing values in place; no key is added
        if key.lower() in SECRET_FIELD_NAMES:
            event_dict[key] = REDACTED
        elif type(value) not in _PLAIN_TYPES:
            event_dict[key] = _redact_value(value)
    return event_dict


_PLAIN_TYPES = frozenset({int, float, bool, type(None)})


def add_trace_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the active span's ids, so logs and traces join up."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
        # Whether the trace was kept: an SRE then knows whether to look for it.
        event_dict.setdefault("trace_sampled", ctx.trace_flags.sampled)
    return event_dict


def shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_context,
        structlog.processors.format_exc_info,
        redact_secrets,
    ]


def _json_line(event: Any, **_: Any) -> str:
    """msgspec instead of the standard library's json: one access line per request adds up.
    Values of other types are written as their ``str``, as structlog's fallback does."""
    return msgspec.json.encode(event, enc_hook=str).decode()


def configure_logging(level: str = "INFO", log_format: str = "auto") -> None:
    """Configure structlog (and the stdlib root logger, for libraries) in one call."""
    use_json = log_format == "json" or (log_format == "auto" and not sys.stdout.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
    )
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[*shared_processors(), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=_named_print_logger_factory,
        # Not cached, so structlog.testing.capture_logs() sees every logger in tests.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared_processors(),
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric_level, logging.WARNING))
    logging.getLogger("httpx").setLevel(logging.WARNING)


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-Id`` when it is well-formed, else a fresh one (never echoed raw)."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            candidate = value.decode("latin-1")
            if _REQUEST_ID_PATTERN.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Pure ASGI middleware: request id in and out, log context, and one access line per request.

    It is pure ASGI (not a Litestar middleware class) so that it wraps every response, including
    the ones Litestar's own exception handling produces for unknown routes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(list(scope.get("headers", [])))
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode("ascii")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            route = scope.get("path_template") or _route_template(scope)
            _access_logger.info(
                "request",
                method=scope.get("method"),
                request_id=request_id,
                route=route,
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


def _route_template(scope: Scope) -> str:
    handler = scope.get("route_handler")
    paths = getattr(handler, "paths", None)
    if paths:
        return str(sorted(paths)[0])
    return "unmatched"
