"""Telemetry building blocks: sampling, child spans, client spans per attempt (core services and
the IdP) with the trace context they send, URL scrubbing, the /metrics guard, active sessions.

OpenTelemetry allows one tracer provider per process; ``SpanRecorder`` adds an in-memory
exporter to it. Spans are only made for sampled traces, so tests start from a sampled parent
(a ``traceparent`` with the sampled flag, which the parent-based sampler honours).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

from bff_web.app import create_app as create_web_app
from core_clients import BreakerState, CallContext, ServicePolicy, build_http_client
from core_clients.catalog import CatalogClient
from shared.identity.oidc import OidcRelyingParty
from shared.platform.errors import CoreUnavailable
from shared.platform.metrics import ActiveSessions
from shared.platform.settings import ConfigError, OtelSettings, load_settings
from shared.platform.telemetry import (
    _otlp_endpoint,
    build_sampler,
    child_span,
    configure_telemetry,
    mark_error,
    safe_url,
    tracer_provider,
)
from tests.core_clients.samples import product

pytestmark = pytest.mark.anyio

Predicate = Callable[[ReadableSpan], bool]


class SpanRecorder:
    """Every finished span of the process, by trace; ``wait_for`` polls, since a server span ends
    just after its response has been sent (the test may read the response first)."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()

    def of_trace(self, trace_id: int) -> list[ReadableSpan]:
        return [
            span
            for span in self.exporter.get_finished_spans()
            if span.context is not None and span.context.trace_id == trace_id
        ]

    def wait_for(self, trace_id: int, done: Predicate, timeout: float = 5.0) -> list[ReadableSpan]:
        deadline = time.monotonic() + timeout
        while True:
            spans = self.of_trace(trace_id)
            if any(done(span) for span in spans) or time.monotonic() > deadline:
                return spans
            time.sleep(0.01)


@contextmanager
def recording_spans() -> Iterator[SpanRecorder]:
    """Add an in-memory exporter to the process's provider (installing it if no app has yet)."""
    configure_telemetry(OtelSettings(service_name="bff-test"))
    provider = tracer_provider()
    assert provider is not None
    recorder = SpanRecorder()
    provider.add_span_processor(SimpleSpanProcessor(recorder.exporter))
    try:
        yield recorder
    finally:
        # A provider cannot drop a processor: this one now stores nothing.
        recorder.exporter.shutdown()


def sampled_traceparent() -> tuple[str, int, int]:
    """A caller's ``traceparent`` with the sampled flag, and its trace and span ids."""
    trace_id, span_id = secrets.randbits(128) | 1, secrets.randbits(64) | 1
    return f"00-{trace_id:032x}-{span_id:016x}-01", trace_id, span_id


@contextmanager
def sampled_root() -> Iterator[trace.Span]:
    """A recording span, child of a sampled remote caller, as the current span."""
    _, trace_id, span_id = sampled_traceparent()
    remote = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(1))
    parent = trace.set_span_in_context(NonRecordingSpan(remote))
    with trace.get_tracer("test").start_as_current_span("test", context=parent) as span:
        assert span.is_recording()
        yield span


@pytest.fixture(scope="module")
def spans() -> Iterator[SpanRecorder]:
    with recording_spans() as recorder:
        yield recorder


def parse_traceparent(value: str) -> tuple[int, int, int]:
    version, trace_id, parent_id, flags = value.split("-")
    assert version == "00"
    return int(trace_id, 16), int(parent_id, 16), int(flags, 16)


# --- sampling and child spans ------------------------------------------------------------------


def test_default_sampler_follows_the_caller_and_samples_a_share_of_new_traces() -> None:
    sampler = build_sampler(OtelSettings(service_name="x"))
    assert "ParentBased" in sampler.get_description()
    assert "TraceIdRatioBased{0.1}" in sampler.get_description()
    assert build_sampler(
        OtelSettings(service_name="x", sampler="always_off")
    ).get_description() == ("AlwaysOffSampler")


def test_metrics_exporters_are_a_comma_list_as_the_specification_allows() -> None:
    both = load_settings("web", {"OTEL_METRICS_EXPORTER": "otlp, prometheus"}).otel
    assert both.metrics_exporters == ("otlp", "prometheus")
    assert load_settings("web", {"OTEL_METRICS_EXPORTER": "none"}).otel.metrics_exporters == ()
    with pytest.raises(ConfigError, match="OTEL_METRICS_EXPORTER"):
        load_settings("web", {"OTEL_METRICS_EXPORTER": "prometheus,statsd"})


def test_otlp_endpoint_is_the_signal_url_over_http_and_the_base_over_grpc() -> None:
    http = OtelSettings(service_name="x", exporter_endpoint="http://collector:4318/")
    grpc = dataclasses.replace(
        http, exporter_endpoint="http://collector:4317", exporter_protocol="grpc"
    )
    assert _otlp_endpoint(http, "traces") == "http://collector:4318/v1/traces"
    assert _otlp_endpoint(http, "metrics") == "http://collector:4318/v1/metrics"
    assert _otlp_endpoint(grpc, "traces") == "http://collector:4317"
    assert _otlp_endpoint(OtelSettings(service_name="x"), "traces") is None  # exporter's default


def test_child_span_is_not_made_under_an_unsampled_request(spans: SpanRecorder) -> None:
    """An unsampled request pays for no spans: the child is the parent's non-recording span."""
    unsampled = NonRecordingSpan(
        SpanContext(secrets.randbits(128), secrets.randbits(64), is_remote=False)
    )
    with trace.use_span(unsampled), child_span("cache.lookup product") as span:
        assert span is unsampled


def test_work_still_running_after_its_span_ended_writes_nothing_to_it(
    spans: SpanRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    """A shielded load outlives the lookup that started it: its calls run under a span that
    has ended. What they describe goes nowhere, without a warning per call."""
    with sampled_root() as root:
        ended = trace.get_tracer("test").start_span("cache.lookup product")
        ended.end()
        with trace.use_span(ended), child_span("GET") as span:
            span.set_attribute("http.response.status_code", 503)
            mark_error(span, "timeout")
        assert span is not ended
        assert not span.is_recording()
        assert span.get_span_context() == ended.get_span_context()
        assert root.is_recording()
    assert not [r for r in caplog.records if "ended span" in r.getMessage()]


def test_child_span_names_the_error_and_not_an_expected_answer(spans: SpanRecorder) -> None:
    with sampled_root() as root:
        with pytest.raises(KeyError), child_span("failing"):
            raise KeyError("x")
        with pytest.raises(LookupError), child_span("answer", answers=(LookupError,)):
            raise LookupError("not found")
    trace_id = root.get_span_context().trace_id
    by_name = {span.name: span for span in spans.of_trace(trace_id)}
    assert by_name["failing"].attributes == {"error.type": "KeyError"}
    assert by_name["failing"].status.status_code is StatusCode.ERROR
    assert by_name["failing"].events == ()  # no exception events, no stack traces in traces
    assert by_name["answer"].status.status_code is StatusCode.UNSET
    assert by_name["failing"].parent is not None
    assert by_name["failing"].parent.span_id == root.get_span_context().span_id


def test_safe_url_keeps_no_user_secret_or_query_value() -> None:
    url = "http://u:pw@core:8100/accounts/v1/accounts/alice%40x.com/orders?cursor=abc&limit=3"
    assert (
        safe_url(url, ("accounts",), base_path="/accounts")
        == "http://core:8100/accounts/v1/accounts/{sub}/orders?cursor=REDACTED&limit=REDACTED"
    )
    assert safe_url("https://idp.example/token") == "https://idp.example/token"


async def test_each_attempt_is_a_client_span_and_the_service_sees_it_as_parent(
    spans: SpanRecorder,
) -> None:
    """Retries are separate CLIENT spans (attempt number, breaker state, status), and each
    request carries the traceparent of its own attempt span."""
    sent: list[httpx.Request] = []
    answers = iter([503, 503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        status = next(answers)
        return httpx.Response(status, json=product() if status == 200 else {})

    policy = ServicePolicy(backoff_base=0.001, backoff_cap=0.002)
    http = build_http_client(
        "http://catalog.internal:8100/catalog", policy, transport=httpx.MockTransport(handler)
    )
    async with http:
        client = CatalogClient(http, policy)
        with sampled_root() as root:
            await client.get_product("7", ctx=CallContext(access_token="secret-token"))
    attempts = sorted(
        (s for s in spans.of_trace(root.get_span_context().trace_id) if s.kind is SpanKind.CLIENT),
        key=lambda s: s.start_time or 0,
    )
    assert [s.name for s in attempts] == ["GET", "GET", "GET"]
    assert [s.attributes["bff.retry.attempt"] for s in attempts] == [1, 2, 3]  # type: ignore[index]
    assert [s.attributes.get("http.response.status_code") for s in attempts] == [503, 503, 200]  # type: ignore[union-attr]
    assert [s.attributes.get("error.type") for s in attempts] == ["503", "503", None]  # type: ignore[union-attr]
    assert [s.attributes.get("http.request.resend_count") for s in attempts] == [None, 1, 2]  # type: ignore[union-attr]
    first = attempts[0].attributes or {}
    assert first["bff.core.service"] == "catalog"
    assert first["bff.breaker.state"] == "closed"
    assert first["server.address"] == "catalog.internal"
    assert first["url.full"] == "http://catalog.internal:8100/catalog/v1/products/7"
    assert attempts[0].status.status_code is StatusCode.ERROR
    for request, attempt in zip(sent, attempts, strict=True):
        trace_id, parent_id, flags = parse_traceparent(request.headers["traceparent"])
        assert attempt.context is not None
        assert (trace_id, parent_id, flags) == (
            attempt.context.trace_id,
            attempt.context.span_id,
            1,
        )
        assert attempt.parent is not None
        assert attempt.parent.span_id == root.get_span_context().span_id
    assert all("secret-token" not in str(s.attributes) for s in attempts)


async def test_a_call_refused_by_the_open_breaker_shows_why_and_sends_nothing(
    spans: SpanRecorder,
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(503, json={})

    policy = ServicePolicy(max_attempts=1, breaker_failure_threshold=1, breaker_open_s=60)
    http = build_http_client("http://catalog", policy, transport=httpx.MockTransport(handler))
    async with http:
        client = CatalogClient(http, policy)
        with sampled_root() as root:
            for _ in range(2):
                with pytest.raises(CoreUnavailable):
                    await client.get_product("7", ctx=CallContext())
    assert client.breaker.state is BreakerState.OPEN
    assert len(sent) == 1
    opened, refused = sorted(
        (s for s in spans.of_trace(root.get_span_context().trace_id) if s.kind is SpanKind.CLIENT),
        key=lambda s: s.start_time or 0,
    )
    assert [e.name for e in opened.events] == ["bff.breaker.transition"]
    assert (opened.events[0].attributes or {})["bff.breaker.to"] == "open"
    assert (refused.attributes or {})["bff.breaker.state"] == "open"
    assert (refused.attributes or {})["error.type"] == "BreakerOpen"
    assert "http.response.status_code" not in (refused.attributes or {})


# --- the identity provider ------------------------------------------------------------------------


DISCOVERY = {
    "issuer": "http://idp.test",
    "authorization_endpoint": "http://idp.test/authorize",
    "token_endpoint": "http://idp.test/token",
    "jwks_uri": "http://idp.test/jwks",
}


async def test_idp_calls_are_client_spans_and_carry_the_trace(spans: SpanRecorder) -> None:
    """The IdP gets the caller's trace too; the span has the endpoint, never the body (tokens)."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path == "/token":
            return httpx.Response(
                200, json={"access_token": "at-secret", "refresh_token": "rt-2", "expires_in": 60}
            )
        return httpx.Response(200, json=DISCOVERY)

    rp = OidcRelyingParty(
        issuer="http://idp.test",
        client_id="bff-web",
        client_secret="client-secret-value",
        redirect_uri="http://bff/cb",
        scopes=("openid",),
        transport=httpx.MockTransport(handler),
    )
    with sampled_root() as root:
        await rp.refresh("rt-secret")
    await rp.aclose()
    clients = {
        s.attributes["url.full"]: s  # type: ignore[index]
        for s in spans.of_trace(root.get_span_context().trace_id)
        if s.kind is SpanKind.CLIENT
    }
    token_span = clients["http://idp.test/token"]
    assert token_span.name == "POST"
    assert (token_span.attributes or {})["bff.core.service"] == "idp"
    assert (token_span.attributes or {})["http.response.status_code"] == 200
    token_request = next(r for r in sent if r.url.path == "/token")
    trace_id, parent_id, _ = parse_traceparent(token_request.headers["traceparent"])
    assert token_span.context is not None
    assert (trace_id, parent_id) == (token_span.context.trace_id, token_span.context.span_id)
    for span in clients.values():
        assert "secret" not in str(span.attributes)


# --- /metrics -------------------------------------------------------------------------------------


@contextmanager
def web_client(**environ: str) -> Iterator[TestClient[Litestar]]:
    settings = load_settings("web", {"BFF_OIDC_ISSUER": "http://127.0.0.1:9", **environ})
    env = environ.get("BFF_ENV_OVERRIDE")
    if env:
        settings = dataclasses.replace(settings, env=env)  # type: ignore[arg-type]
    with TestClient(create_web_app(settings)) as client:
        yield client


def test_metrics_need_the_token_when_one_is_set() -> None:
    with web_client(BFF_METRICS_TOKEN="metrics-token-1234") as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-1234"})
        assert ok.status_code == 200
        assert ok.headers["content-type"].startswith("text/plain")
        assert "http_server_request_duration_seconds" in ok.text


def test_metrics_without_a_token_are_for_loopback_callers_in_dev_and_off_in_prod() -> None:
    # The test client calls from the host "testclient": not loopback.
    with web_client() as client:
        assert client.get("/metrics").status_code == 404
    with web_client(BFF_ENV_OVERRIDE="prod") as client:
        assert client.get("/metrics").status_code == 404


# --- active sessions ------------------------------------------------------------------------------


async def test_active_sessions_count_distinct_sessions_in_the_window() -> None:
    now = [1_000_000.0]
    active = ActiveSessions("web", None, window_minutes=5, clock=lambda: now[0])
    for session_id in ("a", "b", "a"):
        active.seen(session_id)
    await active.flush()
    assert active.count == 2
    now[0] += 120
    active.seen("c")
    await active.flush()
    assert active.count == 3
    now[0] += 300  # a and b were last seen more than 5 minutes ago
    active.seen("c")
    await active.flush()
    assert active.count == 1


async def test_active_sessions_are_counted_across_instances_in_redis(redis_url: str) -> None:
    from shared.platform.redis import create_redis_client

    redis = create_redis_client(redis_url)
    try:
        first, second = ActiveSessions("web", redis), ActiveSessions("web", redis)
        first.seen("a")
        second.seen("a")
        second.seen("b")
        await first.flush()
        await second.flush()
        assert second.count == 2
        keys = [key async for key in redis.scan_iter("bff:metrics:*")]
        assert len(keys) == 1  # one HyperLogLog per minute: ids are not stored, only counted
    finally:
        await redis.aclose()
