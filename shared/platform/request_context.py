"""The request's context: its id (taken or made), its log context, and its one access line.

``RequestContextMiddleware`` runs inside ``ServerSpanMiddleware`` on every request, so access
lines carry the server span's trace and span ids; what it costs is paid once per request.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from shared.platform.logging import NamedWriteLogger, installed_json_lines, write_json_access_line

REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-Id`` when it is well-formed, else a fresh one (never echoed raw).

    A fresh id is 32 lowercase hex characters of the system's random source, as ``uuid4().hex``
    gave before without its object and version bits (a quarter of the cost)."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            candidate = value.decode("latin-1")
            if _REQUEST_ID_PATTERN.fullmatch(candidate):
                return candidate
            break
    return os.urandom(16).hex()


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
        request_id = request_id_from(scope["headers"])
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", ()),
                    (REQUEST_ID_HEADER, request_id.encode("ascii")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            _access_line.write(
                {
                    "method": scope.get("method"),
                    "request_id": request_id,
                    "route": scope.get("path_template") or _route_template(scope),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                }
            )
            structlog.contextvars.clear_contextvars()


def _route_template(scope: Scope) -> str:
    handler = scope.get("route_handler")
    paths = getattr(handler, "paths", None)
    if paths:
        return str(sorted(paths)[0])
    return "unmatched"


class _AccessLine:
    """Writes the access line: what ``get_logger("bff.access").info("request", **fields)`` writes.

    ``get_logger``'s lazy proxy assembles a new bound logger, print logger included, for each
    line, so that a reconfigured structlog is seen at once; for the access line that cost as
    much as three of its processors. Under the JSON configuration ``configure_logging``
    installed, the line takes ``write_json_access_line``: the installed processors, called
    directly. Under any other (the console, a test's capture, a configuration of its own), a
    logger is assembled again only when what it was made from is replaced: the processor list,
    wrapper (level), logger factory or context class (``structlog.configure``; ``capture_logs``
    edits the processor list in place, which a bound logger sees anyway), or ``sys.stdout``, which a
    logger keeps (pytest's capture)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._made: tuple[object, object, object, object, object, Any] | None = None
        """What the logger was made from (processors, wrapper, factory, context class, stdout),
        and the logger."""
        self._writer: NamedWriteLogger | None = None

    def write(self, fields: dict[str, Any]) -> None:
        config = structlog.get_config()
        json_lines = installed_json_lines()
        if json_lines is not None and json_lines.is_current(config):
            if json_lines.info_enabled:
                writer = self._writer
                if writer is None or writer.file is not sys.stdout:
                    writer = self._writer = NamedWriteLogger(self._name)
                write_json_access_line(json_lines, writer, fields)
            return
        self.get(config).info("request", **fields)

    def get(self, config: Mapping[str, Any]) -> Any:
        made = self._made
        if (
            made is None
            or made[0] is not config["processors"]
            or made[1] is not config["wrapper_class"]
            or made[2] is not config["logger_factory"]
            or made[3] is not config["context_class"]
            or made[4] is not sys.stdout
        ):
            made = self._made = (
                config["processors"],
                config["wrapper_class"],
                config["logger_factory"],
                config["context_class"],
                sys.stdout,
                structlog.get_logger(self._name).bind(),
            )
        return made[5]


_access_line = _AccessLine("bff.access")
