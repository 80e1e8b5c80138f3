"""The two middlewares every request passes, driven over ASGI as the server drives them:
``ServerSpanMiddleware`` (the server span, ``traceresponse`` and ``x-trace-id``,
``http.server.request.duration``) around ``RequestContextMiddleware`` (the request id, the log
context, one access line). What they add to each response, span, series and line."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from litestar.types import Message, Receive, Scope, Send
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import generate_latest

from shared.platform.logging import REDACTED, configure_logging
from shared.platform.request_context import RequestContextMiddleware
from shared.platform.server_span import ServerSpanMiddleware
from shared.platform.telemetry import prometheus_registry
from tests.shared.platform.test_telemetry import (
    SpanRecorder,
    parse_traceparent,
    recording_spans,
    sampled_traceparent,
)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"
ROUTE = "/middlewares/{item_id}"
ACCESS_LINE_FIELDS = {
    "method",
    "request_id",
    "route",
    "status",
    "duration_ms",
    "event",
    "logger",
    "level",
    "timestamp",
    "trace_id",
    "span_id",
    "trace_sampled",
}


@pytest.fixture(scope="module")
def spans() -> Iterator[SpanRecorder]:
    with recording_spans() as recorder:
        yield recorder


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """The production configuration (JSON lines on stdout); the lines a test's requests wrote."""
    saved = structlog.get_config()
    configure_logging("INFO", "json")
    capsys.readouterr()

    def lines() -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in capsys.readouterr().out.splitlines()]

    try:
        yield lines
    finally:
        structlog.configure(**saved)


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    """A routed handler: Litestar puts the template on the scope, then the answer goes out."""
    scope["path_template"] = ROUTE
    if scope["path"].endswith("/boom"):
        raise RuntimeError("broken")
    for name, value in scope["headers"]:
        if name == b"x-bind":  # what a handler binds is on its request's access line too
            structlog.contextvars.bind_contextvars(**json.loads(value))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"a", b"1")]})
    await send({"type": "http.response.body", "body": b"{}"})


def request(path: str = "/middlewares/7", method: str = "GET", **headers: str) -> dict[str, str]:
    """One request through both middlewares; the response's headers."""
    app = ServerSpanMiddleware(RequestContextMiddleware(answer))
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Any = {
        "type": "http",
        "method": method,
        "path": path,
        "scheme": "http",
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(app(scope, receive, send))
    start = sent[0]
    assert start["type"] == "http.response.start"
    return {name.decode(): value.decode() for name, value in start["headers"]}


def duration_count(**labels: str) -> float:
    registry = prometheus_registry()
    assert registry is not None
    total = 0.0
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("http_server_request_duration_seconds_count{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line))
            if labels.items() <= found.items():
                total += float(line.rsplit(" ", 1)[1])
    return total


def test_a_sampled_callers_trace_goes_on_in_the_server_span_and_comes_back(
    spans: SpanRecorder,
) -> None:
    traceparent, trace_id, caller_span_id = sampled_traceparent()
    labels = {"http_route": ROUTE, "http_response_status_code": "200", "url_scheme": "http"}
    before = duration_count(**labels)
    headers = request(traceparent=traceparent)
    returned_trace_id, span_id, flags = parse_traceparent(headers["traceresponse"])
    assert (returned_trace_id, flags) == (trace_id, 1)
    assert headers["x-trace-id"] == f"{trace_id:032x}"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    assert headers["a"] == "1"  # the handler's own headers stay
    (span,) = spans.wait_for(trace_id, lambda s: s.kind is SpanKind.SERVER)
    assert span.name == f"GET {ROUTE}"
    assert span.context is not None
    assert span.context.span_id == span_id
    assert span.parent is not None
    assert span.parent.span_id == caller_span_id
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "http.response.status_code": 200,
        "http.route": ROUTE,
        "url.path": "/middlewares/7",
    }
    assert span.status.status_code is StatusCode.UNSET
    assert duration_count(**labels) == before + 1


def test_without_a_traceparent_a_new_trace_is_returned(spans: SpanRecorder) -> None:
    first, second = request(), request()
    for headers in (first, second):
        assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", headers["traceresponse"])
        assert headers["x-trace-id"] == headers["traceresponse"][3:35]
    assert first["x-trace-id"] != second["x-trace-id"]
    assert first["x-request-id"] != second["x-request-id"]


def test_a_failed_request_names_its_error_in_span_series_and_access_line(
    spans: SpanRecorder, json_logs: Any
) -> None:
    traceparent, trace_id, _ = sampled_traceparent()
    labels = {"http_route": ROUTE, "error_type": "RuntimeError", "http_response_status_code": "500"}
    before = duration_count(**labels)
    with pytest.raises(RuntimeError):
        request("/middlewares/boom", traceparent=traceparent)
    (span,) = spans.wait_for(trace_id, lambda s: s.kind is SpanKind.SERVER)
    assert (span.attributes or {})["error.type"] == "RuntimeError"
    assert span.status.status_code is StatusCode.ERROR
    assert span.events == ()  # no exception event: stack traces stay in the logs
    assert duration_count(**labels) == before + 1
    (line,) = json_logs()
    assert (line["status"], line["route"]) == (500, ROUTE)


def test_a_method_outside_the_standard_set_is_other_with_the_original_kept(
    spans: SpanRecorder,
) -> None:
    traceparent, trace_id, _ = sampled_traceparent()
    request(method="PURGE", traceparent=traceparent)
    (span,) = spans.wait_for(trace_id, lambda s: s.kind is SpanKind.SERVER)
    assert span.name == f"_OTHER {ROUTE}"
    assert (span.attributes or {})["http.request.method"] == "_OTHER"
    assert (span.attributes or {})["http.request.method_original"] == "PURGE"


def test_the_access_line_has_its_fields_and_the_server_spans_ids(json_logs: Any) -> None:
    traceparent, trace_id, _ = sampled_traceparent()
    headers = request(traceparent=traceparent, x_request_id="req-0000-1111")
    (line,) = json_logs()
    assert set(line) == ACCESS_LINE_FIELDS
    _, span_id, _ = parse_traceparent(headers["traceresponse"])
    assert line["event"] == "request"
    assert line["logger"] == "bff.access"
    assert line["level"] == "info"
    assert (line["method"], line["route"], line["status"]) == ("GET", ROUTE, 200)
    assert line["request_id"] == headers["x-request-id"] == "req-0000-1111"
    assert line["trace_id"] == f"{trace_id:032x}" == headers["x-trace-id"]
    assert line["span_id"] == f"{span_id:016x}"
    assert line["trace_sampled"] is True
    assert isinstance(line["duration_ms"], float)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", line["timestamp"])


def test_secrets_in_what_a_caller_controls_are_redacted_on_the_access_line(
    json_logs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JWT as request id (well-formed, so it is echoed to its sender), a secret-looking
    method, and values a handler bound to the request's log context: none reach the log."""
    bound = {"code": "c0de-value", "note": "sent Bearer t0ken-value", "url": "/cb?state=st4te"}
    headers = request(method=f"DPoP {JWT}", x_request_id=JWT, x_bind=json.dumps(bound))
    assert headers["x-request-id"] == JWT
    raw = capsys.readouterr().out
    (line,) = [json.loads(text) for text in raw.splitlines()]
    assert line["request_id"] == REDACTED
    assert line["method"] == f"DPoP {REDACTED}"
    assert line["code"] == REDACTED
    assert line["note"] == f"sent {REDACTED}"
    assert line["url"] == f"/cb?state={REDACTED}"
    for secret in (JWT, "c0de-value", "t0ken-value", "st4te"):
        assert secret not in raw
