"""structlog set-up and the redaction every log line passes through.

One ``configure_logging`` call: shared processors, then JSON (production, or whenever stdout is
not a terminal) or the console renderer (a developer's TTY). Every line carries the request id,
and the trace and span ids of the active span, so an SRE can go from a log line to its trace.
Secrets never reach the output: ``redact_secrets`` masks known secret fields by name and any value
that looks like a bearer token or a JWT, wherever it sits in the event. The request id, the
request's log context and its access line are ``shared.platform.request_context``'s.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog
from opentelemetry import trace

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


def _may_hold_secret(text: str) -> bool:
    """Whether ``text`` contains what every secret-looking value above contains (``=``,
    ``bearer``, ``dpop``, ``eyJ``, ``PRIVATE KEY``, in any case): the plain values of a log line
    (methods, routes, ids) skip the substitutions. Substring tests on the lowered text, not one
    case-insensitive regex search: that search tried its five branches at every position and
    cost up to a microsecond on a 32-character id, several times per line."""
    if "=" in text:
        return True
    lowered = text.lower()
    return "bearer" in lowered or "dpop" in lowered or "eyj" in lowered or "private key" in lowered


class NamedWriteLogger(structlog.WriteLogger):
    """A logger to stdout that knows its name, so ``add_logger_name`` can put it on each line.

    structlog's ``WriteLogger`` rather than its ``PrintLogger``: the same line and newline,
    written directly instead of through ``print`` (a fifth of a line's cost less). Its flush
    (a system call per line, about 2 % of a loaded worker's time with an access line per
    request) is made once per turn of the event loop for the lines it wrote in it: a line
    reaches stdout before the loop waits again. Outside a running loop (start-up, a thread)
    each line is flushed at once."""

    def __init__(self, name: str) -> None:
        self.file = sys.stdout
        """Where its lines go: a logger kept across lines is made anew when stdout changes."""
        super().__init__(self.file)
        self.name = name
        self._flush_due_in: asyncio.AbstractEventLoop | None = None
        """The loop whose turn ends with this logger's flush, while one is due."""

    def msg(self, message: str) -> None:
        with self._lock:
            self._write(message + "\n")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread: now
            self._flush_now()
            return
        if self._flush_due_in is not loop:  # (a loop that stopped before its turn ended too)
            self._flush_due_in = loop
            loop.call_soon(self._flush_now)

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg

    def _flush_now(self) -> None:
        self._flush_due_in = None
        with self._lock:
            if not self._file.closed:  # a stream replaced and closed meanwhile (a test's capture)
                self._flush()


def _named_logger_factory(*args: Any) -> NamedWriteLogger:
    return NamedWriteLogger(str(args[0]) if args else "bff")


def get_logger(name: str) -> Any:
    """A lazily configured structlog logger (tests' ``capture_logs`` sees it too)."""
    return structlog.get_logger(name)


def _redact_text(text: str) -> str:
    for pattern in _SECRET_VALUE_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return _SECRET_PARAMETER.sub(rf"\1={REDACTED}", text)


def _redact_value(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, str):
        return _redact_text(value) if _may_hold_secret(value) else value
    if isinstance(value, bytes):  # a PEM key is bytes; whole or nothing, never half a secret
        text = value.decode("latin-1")
        return value if _redact_value(text, depth) == text else REDACTED
    if type(value) is dict or isinstance(value, Mapping):  # the ABC check only for the rare rest
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

    Numbers, booleans and ``None`` are passed over without a look, and plain strings without a
    call: every line has several of both (an access line is half numbers), and this runs for
    every line."""
    for key, value in event_dict.items():  # replacing values in place; no key is added
        if key.lower() in SECRET_FIELD_NAMES:
            event_dict[key] = REDACTED
        elif type(value) is str:
            if _may_hold_secret(value):
                event_dict[key] = _redact_text(value)
        elif type(value) not in _PLAIN_TYPES:
            event_dict[key] = _redact_value(value)
    return event_dict


_PLAIN_TYPES = frozenset({int, float, bool, type(None)})


def add_trace_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the active span's ids, so logs and traces join up."""
    ctx = trace.get_current_span().get_span_context()
    trace_id, span_id = ctx.trace_id, ctx.span_id
    if trace_id != trace.INVALID_TRACE_ID and span_id != trace.INVALID_SPAN_ID:  # is_valid
        event_dict.setdefault("trace_id", format(trace_id, "032x"))
        event_dict.setdefault("span_id", format(span_id, "016x"))
        # Whether the trace was kept: an SRE then knows whether to look for it.
        event_dict.setdefault("trace_sampled", ctx.trace_flags.sampled)
    return event_dict


_stamped_second: tuple[int, str] = (-1, "")
"""The last whole second ``add_timestamp`` formatted, and its text (one tuple: swapped whole)."""


def add_timestamp(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: ``timestamp`` in UTC, as ``TimeStamper(fmt="iso", utc=True)`` writes
    it (``2026-01-31T12:00:00.123456Z``; a whole second has no fraction), from the same clock
    truncated to the microsecond. The date and time of day are formatted once a second, not for
    every line: a third of the cost."""
    global _stamped_second  # a one-slot cache, replaced in one assignment
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    stamped = _stamped_second
    if stamped[0] != seconds:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        stamped = _stamped_second = (seconds, text)
    micros = nanos // 1000
    event_dict["timestamp"] = f"{stamped[1]}.{micros:06d}Z" if micros else f"{stamped[1]}Z"
    return event_dict


def shared_processors() -> list[Any]:
    """Every line's processors, before the renderer.

    ``redact_secrets`` runs once everything a caller can influence is in the event (the logged
    fields, the bound context, an exception's text) and before the fields the processors after
    it add: the logger's name, the level, the time and the trace ids come from code and the
    clock, never from a request, so they are not searched for secrets (a third of an access
    line's values). A processor that copies request data into the event goes before it."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.format_exc_info,
        redact_secrets,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        add_timestamp,
        add_trace_context,
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
    processors = [*shared_processors(), renderer]
    wrapper_class = structlog.make_filtering_bound_logger(numeric_level)
    structlog.configure(
        processors=processors,
        wrapper_class=wrapper_class,
        logger_factory=_named_logger_factory,
        # Not cached, so structlog.testing.capture_logs() sees every logger in tests.
        cache_logger_on_first_use=False,
    )
    global _json_lines  # replaced whole, as structlog's configuration is
    _json_lines = (
        JsonLines(tuple(processors), wrapper_class, numeric_level <= logging.INFO)
        if use_json
        else None
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


# --- the access line's short path -------------------------------------------------------------


@dataclass(frozen=True)
class JsonLines:
    """The JSON configuration ``configure_logging`` installed: its processors as installed, its
    wrapper class (the level), and whether info lines pass."""

    processors: tuple[Any, ...]
    wrapper_class: Any
    info_enabled: bool

    def is_current(self, config: Mapping[str, Any]) -> bool:
        """Whether structlog's configuration is still this one (a test's capture edits the
        processor list in place, a new configuration replaces it)."""
        return (
            config["wrapper_class"] is self.wrapper_class
            and config["logger_factory"] is _named_logger_factory
            and config["context_class"] is dict
            and tuple(config["processors"]) == self.processors
        )


_json_lines: JsonLines | None = None


def installed_json_lines() -> JsonLines | None:
    """What ``configure_logging`` installed for JSON lines, if it did, with the short path on."""
    return _json_lines


def write_json_access_line(
    json_lines: JsonLines, writer: NamedWriteLogger, fields: dict[str, Any]
) -> None:
    """The access line through the installed processors and renderer, as structlog's own call
    runs them, without its per-call assembly of a bound logger. ``fields`` become the event, in
    their order, then ``event``, as structlog builds it."""
    event: Any = {**fields, "event": "request"}
    for processor in json_lines.processors:
        event = processor(writer, "info", event)
    writer.msg(event)
