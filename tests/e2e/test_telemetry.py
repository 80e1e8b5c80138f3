"""What an SRE sees of a request, over real sockets (dev IdP, stubs, Redis, gateway): the trace
of a screen, the trace context the core services receive, the Prometheus text, the log lines, and
that no secret or personal data gets into any of them.

The gateway runs in this process, so its spans reach an in-memory exporter added to the
process's tracer provider. Each request is sent with a sampled ``traceparent``, which the
parent-based sampler honours whatever the ratio, so every test sees its whole trace.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import structlog
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from shared.platform.logging import shared_processors
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import (
    CLIENT_SECRETS,
    TEST_SECRET_KEY,
    RunningGateway,
    StartGateway,
    log_in_browser,
    stored_tokens,
)
from tests.fixtures.idp import IdpServer, StartIdp
from tests.shared.platform.test_telemetry import (
    SpanRecorder,
    parse_traceparent,
    recording_spans,
    sampled_traceparent,
)

CSRF = {"X-CSRF": "1"}
CORE_SERVICES = {"accounts", "catalog", "orders", "recommendations"}

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def spans() -> Iterator[SpanRecorder]:
    with recording_spans() as recorder:
        yield recorder


@pytest.fixture
def web(
    idp: IdpServer, core_stubs: str, start_gateway: StartGateway, redis_url: str
) -> RunningGateway:
    return start_gateway("web", idp_url=idp.url, stubs_url=core_stubs, redis_url=redis_url)


@pytest.fixture
def alice(web: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, headers=CSRF, timeout=20) as client:
        log_in_browser(client, web.url, sub="alice")
        yield client


class Traced:
    """One request sent with a sampled caller span; its whole trace once the server span ends."""

    def __init__(self, client: httpx.Client, spans: SpanRecorder, path: str) -> None:
        traceparent, self.trace_id, self.caller_span_id = sampled_traceparent()
        self.response = client.get(path, headers={"traceparent": traceparent})
        self.spans = spans.wait_for(self.trace_id, lambda s: s.kind is SpanKind.SERVER)
        (self.server,) = [s for s in self.spans if s.kind is SpanKind.SERVER]

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name == name]

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        assert parent.context is not None
        return [s for s in self.spans if s.parent and s.parent.span_id == parent.context.span_id]

    def parent_of(self, span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None
        return next(s for s in self.spans if s.context and s.context.span_id == span.parent.span_id)

    def ancestors(self, span: ReadableSpan) -> list[str]:
        names = []
        while span is not self.server:
            span = self.parent_of(span)
            names.append(span.name)
        return names

    def client_spans(self) -> list[ReadableSpan]:
        return [s for s in self.spans if s.kind is SpanKind.CLIENT]


def held_lookups(traced: Traced) -> list[Event]:
    """The lookups level 1 answered: events on the fan-out span."""
    (fan_out,) = traced.named("fan-out")
    return [e for e in fan_out.events if e.name.startswith("cache.lookup ")]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def series(text: str, name: str, **labels: str) -> list[float]:
    """Values of the Prometheus series ``name`` whose labels include ``labels`` (other labels,
    which the exporter adds as "" when another series of the metric has them, are ignored)."""
    values = []
    for line in text.splitlines():
        if line.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}")]))
            if labels.items() <= found.items():
                values.append(float(line.rsplit(" ", 1)[1]))
    return values


def stub_traceparents(stubs: str) -> dict[str, str]:
    received: dict[str, str] = httpx.get(f"{stubs}/_stats").json()["lastTraceparent"]
    return received


# --- traces -----------------------------------------------------------------------------------


def test_home_trace_shows_session_cache_and_each_core_call_under_the_server_span(
    alice: httpx.Client, spans: SpanRecorder, core_stubs: str
) -> None:
    home = Traced(alice, spans, "/api/home")
    assert home.response.status_code == 200

    server = home.server
    assert server.name == "GET /api/home"
    assert attrs(server)["http.route"] == "/api/home"
    assert attrs(server)["http.response.status_code"] == 200
    assert server.parent is not None  # the caller's span: its trace is continued, not replaced
    assert server.parent.span_id == home.caller_span_id
    assert server.context is not None
    assert home.response.headers["traceresponse"] == (
        f"00-{home.trace_id:032x}-{server.context.span_id:016x}-01"
    )
    for span in home.spans:  # one tree: every span hangs under the server span
        if span is not server:
            assert home.ancestors(span)[-1] == "GET /api/home"

    (session,) = home.named("session.load")
    assert home.parent_of(session) is server
    assert attrs(session)["bff.session.kind"] == "web"
    (fan_out,) = home.named("fan-out")
    assert home.parent_of(fan_out) is server
    assert attrs(fan_out)["bff.degraded"] == ()

    lookups = [s for s in home.spans if s.name.startswith("cache.lookup ")]
    assert {s.name for s in lookups} >= {
        "cache.lookup account",
        "cache.lookup orders",
        "cache.lookup reco",
        "cache.lookup products",
    }
    for lookup in lookups:  # a cold cache: every lookup missed and loaded
        assert attrs(lookup)["cache.hit"] is False
        assert attrs(lookup)["cache.stale"] is False
        assert attrs(lookup)["cache.key_kind"] == (
            "shared" if "products" in lookup.name else "user"
        )

    calls = home.client_spans()
    assert {attrs(c)["bff.core.service"] for c in calls} == CORE_SERVICES
    for call in calls:
        assert call.name == "GET"
        assert home.parent_of(call).name.startswith("cache.lookup ")
        assert attrs(call)["http.response.status_code"] == 200
        assert attrs(call)["server.address"] == "127.0.0.1"
        assert attrs(call)["bff.retry.attempt"] == 1
        assert attrs(call)["bff.breaker.state"] == "closed"
        assert attrs(call)["url.full"].startswith(
            f"{core_stubs}/{attrs(call)['bff.core.service']}/"
        )
    (account_call,) = [c for c in calls if attrs(c)["bff.core.service"] == "accounts"]
    assert attrs(account_call)["url.full"].endswith("/v1/accounts/{sub}")

    # Each stub's last request carried the traceparent of a client span of this trace.
    span_ids = {c.context.span_id for c in calls if c.context is not None}
    for service, traceparent in stub_traceparents(core_stubs).items():
        trace_id, parent_id, flags = parse_traceparent(traceparent)
        assert (trace_id, flags) == (home.trace_id, 1), service
        assert parent_id in span_ids, service

    # Warm, nothing sent. A lookup that Redis answers is a span; one that level 1 answers is an
    # event on the span it ran under (the fan-out), not a span of its own. The second request
    # still reads the user's entries from Redis (this instance learns whose session it is from
    # the first), the third finds every entry in level 1.
    again = Traced(alice, spans, "/api/home")
    assert again.client_spans() == []
    from_redis = [s for s in again.spans if s.name.startswith("cache.lookup ")]
    assert all(attrs(s)["cache.hit"] for s in from_redis)
    held = held_lookups(again)
    assert sorted([s.name for s in from_redis] + [e.name for e in held]) == sorted(
        s.name for s in lookups
    )
    assert "cache.lookup products" in {e.name for e in held}  # shared: this instance loaded it

    third = Traced(alice, spans, "/api/home")
    assert third.client_spans() == []
    assert [s.name for s in third.spans if s.name.startswith("cache.lookup ")] == []
    held = held_lookups(third)
    assert sorted(e.name for e in held) == sorted(s.name for s in lookups)
    for event in held:
        attributes = dict(event.attributes or {})
        assert attributes == {
            "cache.kind": event.name.removeprefix("cache.lookup "),
            "cache.key_kind": "shared" if event.name == "cache.lookup products" else "user",
            "cache.hit": True,
            "cache.stale": False,
            "bff.part": attributes["bff.part"],
        }
    assert {dict(e.attributes or {})["bff.part"] for e in held} == {
        "account",
        "orders",
        "recommendations",
    }


def test_a_degraded_part_shows_which_part_failed_and_each_attempt(
    alice: httpx.Client, spans: SpanRecorder, core_stubs: str
) -> None:
    """Recommendations down: the fan-out names the degraded part, the failed lookup and each
    attempt at the service are in error and name the part they served."""
    httpx.put(f"{core_stubs}/_chaos/recommendations", json={"errorRate": 1.0, "status": 503})
    home = Traced(alice, spans, "/api/home")
    assert home.response.status_code == 200
    assert home.response.json()["degraded"] == ["recommendations"]

    (fan_out,) = home.named("fan-out")
    assert attrs(fan_out)["bff.degraded"] == ("recommendations",)
    (lookup,) = home.named("cache.lookup reco")
    assert lookup.status.status_code is StatusCode.ERROR
    assert attrs(lookup)["error.type"] == "CoreUnavailable"
    assert attrs(lookup)["bff.part"] == "recommendations"
    assert "fan-out" in home.ancestors(lookup)
    (orders,) = home.named("cache.lookup orders")
    assert orders.status.status_code is StatusCode.UNSET
    assert attrs(orders)["bff.part"] == "orders"

    attempts = sorted(
        (c for c in home.client_spans() if attrs(c)["bff.core.service"] == "recommendations"),
        key=lambda s: s.start_time or 0,
    )
    assert len(attempts) >= 2  # retried, as far as the budget and deadline allowed
    assert [attrs(a)["bff.retry.attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
    for attempt in attempts:
        assert attrs(attempt)["http.response.status_code"] == 503
        assert attrs(attempt)["error.type"] == "503"
        assert attrs(attempt)["bff.part"] == "recommendations"
        assert attempt.status.status_code is StatusCode.ERROR
        assert home.parent_of(attempt) is lookup
    assert home.server.status.status_code is StatusCode.UNSET  # the screen itself answered 200


def test_an_unsampled_caller_keeps_its_trace_id_and_no_spans_are_kept(
    alice: httpx.Client, spans: SpanRecorder, core_stubs: str
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = alice.get("/api/home", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-00"})
    assert response.status_code == 200
    returned_trace_id, _, flags = parse_traceparent(response.headers["traceresponse"])
    assert (f"{returned_trace_id:032x}", flags) == (trace_id, 0)
    for traceparent in stub_traceparents(core_stubs).values():  # still propagated, unsampled
        assert traceparent.startswith(f"00-{trace_id}-")
        assert traceparent.endswith("-00")
    time.sleep(0.1)
    assert spans.of_trace(int(trace_id, 16)) == []


def test_every_answer_names_its_trace_and_problems_carry_it_in_the_body(
    web: RunningGateway,
) -> None:
    with httpx.Client(base_url=web.url, headers=CSRF) as anonymous:
        response = anonymous.get("/api/home")  # no caller trace: the gateway starts one
    assert response.status_code == 401
    trace_id, _, _ = parse_traceparent(response.headers["traceresponse"])
    assert response.json()["traceId"] == f"{trace_id:032x}"


# --- metrics ----------------------------------------------------------------------------------


def test_prometheus_text_has_server_and_client_durations_by_route_and_service(
    alice: httpx.Client,
) -> None:
    for _ in range(3):
        assert alice.get("/api/products/7").status_code == 200
    text = alice.get("/metrics").text  # the test calls from loopback; dev needs no token

    route = {"http_route": "/api/products/{product_id}", "http_request_method": "GET"}
    assert "# TYPE http_server_request_duration_seconds histogram" in text
    assert series(text, "http_server_request_duration_seconds_bucket", **route, le="+Inf")
    (count,) = series(
        text, "http_server_request_duration_seconds_count", **route, http_response_status_code="200"
    )
    assert count >= 3
    assert "# TYPE http_client_request_duration_seconds histogram" in text
    for service in CORE_SERVICES - {"orders"}:  # the product screen does not read orders
        assert series(text, "http_client_request_duration_seconds_count", bff_core_service=service)
    assert series(text, "bff_cache_lookups_total", cache_kind="product", bff_cache_status="hit")
    breaker = {"bff_core_service": "catalog", "bff_breaker_state": "closed"}
    assert series(text, "bff_breaker_state", **breaker) == [1.0]
    assert "/api/products/7" not in text  # route templates only, never raw paths


# --- logs -------------------------------------------------------------------------------------


@contextmanager
def processed_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Log events as the gateway writes them (after every processor, redaction included)."""
    saved = structlog.get_config()
    capture = structlog.testing.LogCapture()
    structlog.configure(processors=[*shared_processors(), capture])
    try:
        yield capture.entries
    finally:
        structlog.configure(**saved)


def test_every_request_log_line_has_the_trace_and_one_access_line(
    alice: httpx.Client, spans: SpanRecorder, core_stubs: str
) -> None:
    httpx.put(f"{core_stubs}/_chaos/recommendations", json={"errorRate": 1.0, "status": 503})
    with processed_logs() as events:
        home = Traced(alice, spans, "/api/home")  # logs a degraded part, then the access line
    request_id = home.response.headers["x-request-id"]
    lines = [e for e in events if e.get("request_id") == request_id]
    assert {e["event"] for e in lines} >= {"part_degraded", "request"}
    for line in lines:
        assert line["trace_id"] == f"{home.trace_id:032x}"
        assert len(line["span_id"]) == 16
        assert line["trace_sampled"] is True
    (access,) = [e for e in lines if e["event"] == "request"]
    assert access["route"] == "/api/home"
    assert access["status"] == 200
    assert access["method"] == "GET"
    assert access["duration_ms"] > 0
    assert home.server.context is not None
    assert access["span_id"] == f"{home.server.context.span_id:016x}"


def test_login_screens_refresh_and_logout_leave_no_secret_in_logs_or_traces(
    start_idp: StartIdp,
    core_stubs: str,
    start_gateway: StartGateway,
    redis_url: str,
    spans: SpanRecorder,
) -> None:
    idp = start_idp(token_max_age=4)  # refreshed after 2 s (half the lifetime)
    clock = FakeClock()
    web = start_gateway(
        "web", idp_url=idp.url, stubs_url=core_stubs, redis_url=redis_url, clock=clock
    )
    traceparent, trace_id, _ = sampled_traceparent()  # every request sampled, one trace
    secrets: dict[str, str] = {
        "client secret": CLIENT_SECRETS["web"],
        "secret key": TEST_SECRET_KEY,
    }
    headers = {**CSRF, "traceparent": traceparent}
    with (
        processed_logs() as events,
        httpx.Client(base_url=web.url, headers=headers, timeout=20) as browser,
    ):
        start = browser.get("/bff/login", params={"returnUrl": "/"})
        authorize = parse_qs(urlsplit(start.headers["location"]).query)
        secrets |= {"state": authorize["state"][0], "nonce": authorize["nonce"][0]}
        secrets["login cookie"] = browser.cookies["bff-login"]
        with httpx.Client() as idp_browser:
            consent = idp_browser.post(start.headers["location"], data={"sub": "alice"})
        callback = consent.headers["location"]
        secrets["authorization code"] = parse_qs(urlsplit(callback).query)["code"][0]
        assert browser.get(callback).status_code == 302
        secrets["session cookie"] = browser.cookies["bff"]
        first = stored_tokens(redis_url, "alice")
        secrets |= {"access token": first.access_token, "refresh token": first.refresh_token or ""}
        secrets["id token"] = first.id_token or ""

        assert browser.get("/bff/user").status_code == 200
        assert browser.get("/api/home").status_code == 200
        clock.advance(2.5)
        assert browser.get("/api/products/7").status_code == 200  # refreshes the tokens
        renewed = stored_tokens(redis_url, "alice")
        assert renewed.access_token != first.access_token
        secrets |= {"renewed access token": renewed.access_token}
        secrets |= {"renewed refresh token": renewed.refresh_token or ""}
        metrics = browser.get("/metrics").text
        assert browser.post("/bff/logout", headers={"Origin": web.url}).status_code == 302

    assert series(metrics, "bff_token_refreshes_total", bff_token_refresh_outcome="ok")
    assert series(metrics, "bff_sessions_active", bff_gateway="web")

    trace = spans.wait_for(trace_id, lambda s: s.name == "POST /bff/logout")
    (refresh,) = [s for s in trace if s.name == "token.refresh"]
    assert attrs(refresh)["bff.token.refresh.outcome"] == "ok"
    assert {s.name for s in trace if s.kind is SpanKind.SERVER} >= {
        "GET /bff/login",
        "GET /bff/callback",
        "GET /api/products/{product_id}",
    }
    idp_calls = [s for s in trace if attrs(s).get("bff.core.service") == "idp"]
    assert any(attrs(s)["url.full"].endswith("/token") for s in idp_calls)

    assert events, "the flow logged nothing: the capture is broken"
    logged = repr(events)
    recorded = repr([(s.name, attrs(s), [(e.name, e.attributes) for e in s.events]) for s in trace])
    for name, value in secrets.items():
        assert value, name
        assert value not in logged, f"{name} was logged"
        assert value not in recorded, f"{name} is in a span"
    assert "alice" not in recorded  # personal data: the sub is not in any span either
