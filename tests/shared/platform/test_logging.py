"""Log lines: secrets are redacted wherever they sit in an event, every line in a span carries the
trace and span ids, and each request is one access line with its request id."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import TestClient
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from shared.identity.dpop import DpopKey
from shared.platform.logging import (
    REDACTED,
    NamedWriteLogger,
    add_timestamp,
    add_trace_context,
    configure_logging,
    get_logger,
    installed_json_lines,
    redact_secrets,
    shared_processors,
    write_json_access_line,
)
from shared.platform.request_context import RequestContextMiddleware

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"


def redact(**event: Any) -> dict[str, Any]:
    return dict(redact_secrets(None, "info", dict(event)))


@pytest.mark.parametrize(
    "field",
    [
        "Authorization",
        "authorization",
        "Cookie",
        "Set-Cookie",
        "set_cookie",
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "client_secret",
        "code",
        "code_verifier",
        "state",
        "nonce",
        "password",
        "logout_token",
        "DPoP",
        "dpop_key",
    ],
)
def test_secret_fields_are_redacted_by_name_at_any_depth(field: str) -> None:
    event = redact(event="x", **{field: "s3cr3t"}, nested={"inner": [{field: "s3cr3t"}]})
    assert event[field] == REDACTED
    assert event["nested"] == {"inner": [{field: REDACTED}]}


def test_headers_logged_as_a_mapping_lose_their_secrets_and_keep_the_rest() -> None:
    event = redact(
        event="upstream",
        headers={"Authorization": "Bearer abc", "Cookie": "bff=sid", "Accept": "application/json"},
    )
    assert event["headers"] == {
        "Authorization": REDACTED,
        "Cookie": REDACTED,
        "Accept": "application/json",
    }


def test_bearer_tokens_and_jwts_are_redacted_inside_any_text() -> None:
    event = redact(event="failed", detail=f"sent Bearer abc.def-123 and {JWT} to the IdP")
    assert event["detail"] == f"sent {REDACTED} and {REDACTED} to the IdP"


def test_dpop_tokens_and_private_keys_are_redacted_inside_any_text() -> None:
    """A session's DPoP key (PEM) and a token sent with the DPoP scheme, wherever they land."""
    pem = DpopKey.generate().private_pem().decode().strip()
    event = redact(event="failed", detail=f"sent DPoP abc.def-123 with {pem}", key=pem.encode())
    assert event["detail"] == f"sent {REDACTED} with {REDACTED}"
    assert "PRIVATE" not in repr(event)


def test_secret_query_and_form_parameters_are_redacted_inside_urls() -> None:
    event = redact(
        event="callback",
        url="/bff/callback?code=abc123&state=xyz&iss=http%3A%2F%2Fidp",
        body="grant_type=authorization_code&code_verifier=v3r1f13r&client_secret=cs",
    )
    assert event["url"] == f"/bff/callback?code={REDACTED}&state={REDACTED}&iss=http%3A%2F%2Fidp"
    assert event["body"] == (
        f"grant_type=authorization_code&code_verifier={REDACTED}&client_secret={REDACTED}"
    )


def test_ordinary_fields_pass_unchanged() -> None:
    event = redact(event="request", route="/api/home", status=200, breaker_state="open")
    assert event == {
        "event": "request",
        "route": "/api/home",
        "status": 200,
        "breaker_state": "open",
    }


def test_lines_inside_a_span_carry_its_trace_and_span_ids() -> None:
    context = SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=TraceFlags(1))
    with trace.use_span(NonRecordingSpan(context)):
        event = add_trace_context(None, "info", {"event": "x"})
    assert event["trace_id"] == f"{0xABC:032x}"
    assert event["span_id"] == f"{0xDEF:016x}"
    assert event["trace_sampled"] is True
    assert "trace_id" not in add_trace_context(None, "info", {"event": "outside any span"})


@pytest.fixture
def structlog_restored() -> Iterator[None]:
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.mark.usefixtures("structlog_restored")
def test_rendered_json_lines_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    capsys.readouterr()
    get_logger("bff.test").info("token_call", client_secret="cs-1", url="/cb?code=c0de")
    output = capsys.readouterr().out
    (line,) = [json.loads(raw) for raw in output.splitlines()]
    assert line["client_secret"] == REDACTED
    assert line["url"] == f"/cb?code={REDACTED}"
    assert line["logger"] == "bff.test"
    assert "cs-1" not in output
    assert "c0de" not in output


@get("/items/{item_id:int}", sync_to_thread=False)
def item(item_id: FromPath[int]) -> dict[str, int]:
    get_logger("bff.test").info("handling")
    return {"id": item_id}


@pytest.mark.usefixtures("structlog_restored")
def test_one_access_line_per_request_with_route_template_status_and_request_id() -> None:
    app = Litestar([item])
    app.asgi_handler = RequestContextMiddleware(app.asgi_handler)
    configure_logging("INFO", "json")
    capture = structlog.testing.LogCapture()
    structlog.configure(processors=[*shared_processors(), capture])
    with TestClient(app) as client:
        response = client.get("/items/42", headers={"X-Request-Id": "req-0000-1111"})
        fresh = client.get("/items/43")
    assert response.headers["x-request-id"] == "req-0000-1111"
    access = [e for e in capture.entries if e["event"] == "request"]
    assert len(access) == 2
    assert access[0]["route"] == "/items/{item_id}"  # the template, never /items/42
    assert access[0]["status"] == 200
    assert access[0]["method"] == "GET"
    assert access[0]["request_id"] == "req-0000-1111"
    assert access[0]["duration_ms"] >= 0
    assert access[1]["request_id"] == fresh.headers["x-request-id"] != "req-0000-1111"
    handling = [e for e in capture.entries if e["event"] == "handling"]
    assert handling[0]["request_id"] == "req-0000-1111"  # bound for every line of the request


def test_only_fields_from_code_and_the_clock_are_added_after_redaction() -> None:
    """Redaction runs once the logged fields, the bound context and an exception's text are in
    the event; what is added after it (logger name, level, time, trace ids) is not searched, so
    nothing that copies request data in may come after it."""
    processors = shared_processors()
    after = processors[processors.index(redact_secrets) + 1 :]
    assert after == [
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        add_timestamp,
        add_trace_context,
    ]
    before = processors[: processors.index(redact_secrets)]
    assert structlog.contextvars.merge_contextvars in before
    assert structlog.processors.format_exc_info in before


@pytest.mark.usefixtures("structlog_restored")
def test_bound_context_and_exception_text_are_redacted_in_rendered_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    capsys.readouterr()
    structlog.contextvars.bind_contextvars(code="c0de", note=f"got {JWT}")
    try:
        try:
            raise RuntimeError(f"refresh failed for Bearer t0ken and {JWT}")
        except RuntimeError:
            get_logger("bff.test").exception("refresh_failed")
    finally:
        structlog.contextvars.clear_contextvars()
    output = capsys.readouterr().out
    (line,) = [json.loads(raw) for raw in output.splitlines()]
    assert line["code"] == REDACTED
    assert line["note"] == f"got {REDACTED}"
    assert "RuntimeError: refresh failed for" in line["exception"]
    for secret in ("c0de", "t0ken", JWT):
        assert secret not in output
    assert (line["logger"], line["level"]) == ("bff.test", "error")


@pytest.mark.parametrize("nanos", [1_764_524_306_242_603_917, 1_764_524_306_000_000_999, 0])
def test_timestamps_are_written_as_structlogs_iso_utc_stamper_writes_them(
    monkeypatch: pytest.MonkeyPatch, nanos: int
) -> None:
    """UTC, microseconds (truncated, as the clock's reading is), no fraction on a whole second."""
    monkeypatch.setattr(time, "time_ns", lambda: nanos)
    instant = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=nanos // 1000)
    expected = instant.isoformat().replace("+00:00", "Z")
    assert add_timestamp(None, "info", {})["timestamp"] == expected
    assert add_timestamp(None, "info", {})["timestamp"] == expected  # the second's text, kept


@pytest.mark.usefixtures("structlog_restored")
def test_access_lines_follow_a_new_configuration_and_a_new_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The access line's logger is assembled once, but again whenever structlog is configured
    anew or stdout is replaced, as a lazily assembled logger would be."""
    app = RequestContextMiddleware(answer_ok)
    configure_logging("INFO", "json")
    capsys.readouterr()
    drive(app, "req-first-1")
    assert json.loads(capsys.readouterr().out)["request_id"] == "req-first-1"
    with structlog.testing.capture_logs() as captured:  # the processor list, edited in place
        drive(app, "req-second-2")
    assert [e["request_id"] for e in captured] == ["req-second-2"]
    capture = structlog.testing.LogCapture()
    structlog.configure(processors=[*shared_processors(), capture])  # a new processor list
    drive(app, "req-third-3")
    assert [e["request_id"] for e in capture.entries] == ["req-third-3"]
    configure_logging("WARNING", "json")  # a new wrapper: info lines are dropped
    drive(app, "req-fourth-4")
    assert capsys.readouterr().out == ""
    configure_logging("INFO", "json")
    with capsys.disabled(), contextlib.redirect_stdout(io.StringIO()) as replaced:
        drive(app, "req-fifth-5")
    assert json.loads(replaced.getvalue())["request_id"] == "req-fifth-5"


async def answer_ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def drive(app: Any, request_id: str) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        pass

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"x-request-id", request_id.encode())],
    }
    asyncio.run(app(scope, receive, send))


@pytest.mark.usefixtures("structlog_restored")
def test_the_access_lines_short_path_writes_what_structlogs_chain_writes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the production configuration the access line skips structlog's assembly; the line
    is the same, byte for byte: field order, redaction of fields and bound values, trace ids."""
    configure_logging("INFO", "json")
    json_lines = installed_json_lines()
    assert json_lines is not None
    assert json_lines.is_current(structlog.get_config())
    monkeypatch.setattr(time, "time_ns", lambda: 1_764_524_306_242_603_917)
    fields = {
        "method": f"DPoP {JWT}",
        "request_id": JWT,
        "route": "/items/{item_id}",
        "status": 200,
        "duration_ms": 1.25,
    }
    context = SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=TraceFlags(1))
    structlog.contextvars.bind_contextvars(code="c0de", nested={"token": "t", "ok": [1, "x=y"]})
    try:
        capsys.readouterr()
        with trace.use_span(NonRecordingSpan(context)):
            write_json_access_line(json_lines, NamedWriteLogger("bff.access"), dict(fields))
            get_logger("bff.access").info("request", **fields)
    finally:
        structlog.contextvars.clear_contextvars()
    short, chain = capsys.readouterr().out.splitlines()
    assert short == chain
    assert JWT not in short
    assert "c0de" not in short


@pytest.mark.usefixtures("structlog_restored")
def test_the_short_path_is_off_for_the_console_and_a_changed_chain() -> None:
    configure_logging("INFO", "console")
    assert installed_json_lines() is None
    configure_logging("WARNING", "json")
    json_lines = installed_json_lines()
    assert json_lines is not None
    assert not json_lines.info_enabled
    with structlog.testing.capture_logs():
        assert not json_lines.is_current(structlog.get_config())


class FlushCountingFile(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


@pytest.mark.anyio
async def test_the_lines_of_one_turn_of_the_loop_are_flushed_once_at_its_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    file = FlushCountingFile()
    monkeypatch.setattr("sys.stdout", file)
    access = NamedWriteLogger("bff.access")
    access.msg("one")
    access.info("two")
    access.msg("three")
    assert file.getvalue() == "one\ntwo\nthree\n"
    assert file.flushes == 0
    await asyncio.sleep(0)
    assert file.flushes == 1
    access.msg("four")
    await asyncio.sleep(0)
    assert file.flushes == 2


def test_without_a_running_loop_each_line_is_flushed_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    file = FlushCountingFile()
    monkeypatch.setattr("sys.stdout", file)
    logger = NamedWriteLogger("bff")
    logger.msg("one")
    logger.error("two")
    assert file.flushes == 2


def test_a_flush_left_due_in_a_stopped_loop_does_not_hold_back_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loop stopped before the turn's flush ran: the next loop flushes its own lines."""
    file = FlushCountingFile()
    monkeypatch.setattr("sys.stdout", file)
    logger = NamedWriteLogger("bff")

    async def write_and_stop() -> None:
        logger.msg("one")
        asyncio.get_running_loop().stop()  # the loop ends with this turn, its flush not run

    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(write_and_stop())
    finally:
        first.close()
    assert file.flushes == 0

    async def write_and_turn() -> None:
        logger.msg("two")
        await asyncio.sleep(0)

    asyncio.run(write_and_turn())
    assert file.flushes == 1
    assert file.getvalue() == "one\ntwo\n"
