"""Log lines: secrets are redacted wherever they sit in an event, every line in a span carries the
trace and span ids, and each request is one access line with its request id."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
    RequestContextMiddleware,
    add_trace_context,
    configure_logging,
    get_logger,
    redact_secrets,
    shared_processors,
)

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
