"""A remote API call is a CLIENT span per attempt, named by the route template, whose context
the upstream receives as ``traceparent``; its duration is recorded under the API's name."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.trace import SpanKind
from prometheus_client import generate_latest

from shared.platform.telemetry import prometheus_registry
from tests.shared.platform.test_telemetry import (
    SpanRecorder,
    parse_traceparent,
    recording_spans,
    sampled_root,
)
from tests.shared.remote.test_forwarding import StreamingTransport, call, ok, remote_api

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def spans() -> Iterator[SpanRecorder]:
    with recording_spans() as recorder:
        yield recorder


async def test_the_upstream_sees_the_attempts_span_as_its_parent(spans: SpanRecorder) -> None:
    transport = StreamingTransport(ok, failures=[httpx.ConnectError("refused")])
    api = remote_api(transport, retries=1)
    with sampled_root() as root:
        answer = await api.forward(call())
        await answer.close()
    trace_id = root.get_span_context().trace_id
    attempts = sorted(
        (s for s in spans.of_trace(trace_id) if s.kind is SpanKind.CLIENT),
        key=lambda s: s.start_time or 0,
    )
    assert [s.name for s in attempts] == ["GET /api/remote/reviews/{path}"] * 2
    assert [(s.attributes or {}).get("bff.retry.attempt") for s in attempts] == [1, 2]
    assert (attempts[1].attributes or {})["bff.remote.api"] == "reviews"
    assert (attempts[1].attributes or {})["http.response.status_code"] == 200
    assert (attempts[0].attributes or {})["error.type"] == "ConnectError"
    for request, attempt in zip(transport.requests, attempts, strict=True):
        sent_trace, parent_id, _ = parse_traceparent(request.headers["traceparent"])
        assert attempt.context is not None
        assert (sent_trace, parent_id) == (trace_id, attempt.context.span_id)
    assert all("user-token" not in str(s.attributes) for s in attempts)


async def test_the_duration_is_recorded_under_the_apis_name(spans: SpanRecorder) -> None:
    answer = await remote_api(StreamingTransport(ok)).forward(call())
    await answer.close()
    registry = prometheus_registry()
    assert registry is not None
    exposed = generate_latest(registry).decode()
    assert any(
        line.startswith("http_client_request_duration_seconds_count")
        and 'bff_remote_api="reviews"' in line
        for line in exposed.splitlines()
    )
