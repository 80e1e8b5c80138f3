"""The shared call path: headers, decoding, error mapping, retries, breaker, deadline."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from core_clients.base import BreakerOpen, CallContext, UpstreamRejected
from core_clients.catalog import CatalogClient, Product
from core_clients.orders import OrdersClient
from core_clients.policy import ServicePolicy
from shared.platform.deadline import Deadline, deadline_scope
from shared.platform.errors import (
    CoreBadResponse,
    CoreError,
    CoreNotFound,
    CoreRejected,
    CoreTimeout,
    CoreUnavailable,
)
from tests.core_clients.samples import product
from tests.core_clients.support import always, client_for, json_response, sequence
from tests.fixtures.clock import FakeClock

pytestmark = pytest.mark.anyio

CTX = CallContext(access_token="user-token-123", request_id="req-0001")


# --- what every call carries -------------------------------------------------------------


async def test_every_call_carries_bearer_request_id_and_time_left() -> None:
    """The token, the request id and the deadline's remaining ms go out on every call."""
    async with client_for(CatalogClient, always(200, product())) as (client, sent):
        with deadline_scope(Deadline.after(1.5)):
            await client.get_product("7", ctx=CTX)
    headers = sent.requests[0].headers
    assert headers["authorization"] == "Bearer user-token-123"
    assert headers["x-request-id"] == "req-0001"
    assert headers["accept"] == "application/json"
    assert 500 < int(headers["x-deadline-ms"]) <= 1500


async def test_without_deadline_the_policy_total_timeout_is_sent() -> None:
    """Outside a request the call is still bounded, and says so."""
    async with client_for(CatalogClient, always(200, product())) as (client, sent):
        await client.get_product("7", ctx=CallContext())
    headers = sent.requests[0].headers
    assert "authorization" not in headers
    assert "x-request-id" not in headers
    assert 2000 < int(headers["x-deadline-ms"]) <= 3000


async def test_traceparent_goes_out_when_a_span_is_active() -> None:
    """The core service joins the caller's trace (W3C trace context)."""
    tracer = TracerProvider().get_tracer(__name__)  # local provider, the global one is untouched
    async with client_for(CatalogClient, always(200, product())) as (client, sent):
        await client.get_product("7", ctx=CTX)
        with tracer.start_as_current_span("screen") as span:
            await client.get_product("7", ctx=CTX)
            trace_id = format(span.get_span_context().trace_id, "032x")
    assert "traceparent" not in sent.requests[0].headers
    version, sent_trace_id, _parent, _flags = sent.requests[1].headers["traceparent"].split("-")
    assert (version, sent_trace_id) == ("00", trace_id)


async def test_base_url_prefix_is_kept() -> None:
    """Stubs serve every service under one port with a prefix each."""
    async with client_for(CatalogClient, always(200, product())) as (client, sent):
        await client.get_product("7", ctx=CTX)
    assert sent.requests[0].url.path == "/catalog/v1/products/7"


# --- decoding ------------------------------------------------------------------------------


async def test_body_decodes_into_structs_and_unknown_fields_are_ignored() -> None:
    async with client_for(CatalogClient, always(200, product("7"))) as (client, _):
        item = await client.get_product("7", ctx=CTX)
    assert isinstance(item, Product)
    assert item.price.amount_minor == 1999
    assert item.images[0].width == 640
    assert item.rating.average == 4.5
    assert item.attributes == {"colour": "red", "sizes": [1, 2]}


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, content=b"<html>oops</html>", headers={"content-type": "text/html"}),
        httpx.Response(200, content=b"{not json", headers={"content-type": "application/json"}),
        httpx.Response(200, json={"id": 7, "title": None}),
        httpx.Response(200, json=[1, 2, 3]),
        httpx.Response(302, headers={"location": "/elsewhere"}),
    ],
    ids=["html", "garbage", "wrong-types", "wrong-shape", "redirect"],
)
async def test_answers_outside_the_contract_are_bad_responses(response: httpx.Response) -> None:
    async with client_for(CatalogClient, lambda _r: response) as (client, sent):
        with pytest.raises(CoreBadResponse) as caught:
            await client.get_product("7", ctx=CTX)
    assert caught.value.service == "catalog"
    assert sent.count == 1, "a bad answer is not retried"


# --- status and transport mapping ------------------------------------------------------------


async def test_404_is_core_not_found_and_not_retried() -> None:
    async with client_for(CatalogClient, always(404)) as (client, sent):
        with pytest.raises(CoreNotFound):
            await client.get_product("999", ctx=CTX)
    assert sent.count == 1


@pytest.mark.parametrize("status", [400, 401, 403, 409, 422, 429])
async def test_other_4xx_is_rejected_with_the_upstream_status(status: int) -> None:
    """The status is kept for the caller to branch on; the downstream body never leaks."""
    body = {"error": "internal-db-7.corp.example exploded"}
    async with client_for(CatalogClient, always(status, body)) as (client, sent):
        with pytest.raises(UpstreamRejected) as caught:
            await client.get_product("7", ctx=CTX)
    assert isinstance(caught.value, CoreRejected)
    assert caught.value.upstream_status == status
    assert caught.value.status == 502
    assert "corp.example" not in caught.value.detail
    assert str(status) not in caught.value.detail
    assert sent.count == 1


@pytest.mark.parametrize(("status", "attempts"), [(500, 1), (501, 1), (502, 3), (503, 3), (504, 3)])
async def test_5xx_is_unavailable_and_only_502_503_504_are_retried(
    status: int, attempts: int
) -> None:
    async with client_for(CatalogClient, always(status, {"trace": "secret"})) as (client, sent):
        with pytest.raises(CoreUnavailable) as caught:
            await client.get_product("7", ctx=CTX)
    assert sent.count == attempts
    assert "secret" not in caught.value.detail


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused by 10.1.2.3"), CoreUnavailable),
        (httpx.ReadError("connection reset"), CoreUnavailable),
        (httpx.RemoteProtocolError("Server disconnected"), CoreUnavailable),
        (httpx.ConnectTimeout("slow"), CoreTimeout),
        (httpx.ReadTimeout("slow"), CoreTimeout),
    ],
)
async def test_transport_failures_map_to_core_errors_and_are_retried(
    exc: Exception, expected: type[CoreError]
) -> None:
    async with client_for(CatalogClient, sequence(exc)) as (client, sent):
        with pytest.raises(expected) as caught:
            await client.get_product("7", ctx=CTX)
    assert caught.value.__cause__ is exc
    assert "10.1.2.3" not in caught.value.detail
    assert sent.count == 3


async def test_unexpected_transport_exception_never_escapes_raw() -> None:
    """Whatever a transport raises becomes a CoreError, with the original as its cause."""
    boom = RuntimeError("driver bug")
    async with client_for(CatalogClient, sequence(boom)) as (client, sent):
        with pytest.raises(CoreUnavailable) as caught:
            await client.get_product("7", ctx=CTX)
    assert caught.value.__cause__ is boom
    assert sent.count == 1, "an unknown failure is not assumed to be transient"


# --- retries -------------------------------------------------------------------------------


async def test_get_is_retried_until_it_succeeds() -> None:
    answers = sequence(
        httpx.Response(503), httpx.ConnectError("refused"), json_response(product("7"))
    )
    async with client_for(CatalogClient, answers) as (client, sent):
        item = await client.get_product("7", ctx=CTX)
    assert item.id == "7"
    assert sent.count == 3


async def test_post_without_idempotency_key_is_never_retried() -> None:
    async with client_for(OrdersClient, always(503)) as (client, sent):
        with pytest.raises(CoreUnavailable):
            await client._request(
                "POST", "/v1/orders", ctx=CTX, json={}, idempotent=False, decode_as=dict
            )
    assert sent.count == 1


async def test_post_cannot_claim_idempotency_without_a_key() -> None:
    """Retrying a POST without a key could place a second order: refused before any I/O."""
    async with client_for(OrdersClient, always(503)) as (client, sent):
        with pytest.raises(ValueError, match="Idempotency-Key"):
            await client._request(
                "POST", "/v1/orders", ctx=CTX, json={}, idempotent=True, decode_as=dict
            )
    assert sent.count == 0


# --- circuit breaker -------------------------------------------------------------------------

BREAKER = ServicePolicy(
    max_attempts=1, breaker_failure_threshold=3, breaker_open_s=5.0, breaker_half_open_probes=2
)


async def test_breaker_opens_after_threshold_and_then_sends_nothing() -> None:
    transitions: list[tuple[str, str, str]] = []

    def on_transition(service: str, old: str, new: str) -> None:
        transitions.append((service, old, new))

    async with client_for(
        CatalogClient, always(503), BREAKER, on_breaker_transition=on_transition
    ) as (client, sent):
        for _ in range(3):
            with pytest.raises(CoreUnavailable):
                await client.get_product("7", ctx=CTX)
        assert client.breaker.state == "open"
        for _ in range(20):
            with pytest.raises(BreakerOpen):
                await client.get_product("7", ctx=CTX)
    assert sent.count == 3, "no request may reach a service while its breaker is open"
    assert transitions == [("catalog", "closed", "open")]


async def test_breaker_recovers_through_half_open() -> None:
    clock = FakeClock()
    answers = sequence(*[httpx.Response(503)] * 3, json_response(product("7")))
    async with client_for(CatalogClient, answers, BREAKER, clock=clock) as (client, sent):
        for _ in range(3):
            with pytest.raises(CoreUnavailable):
                await client.get_product("7", ctx=CTX)
        assert client.breaker.state == "open"
        clock.advance(BREAKER.breaker_open_s - 1)
        assert client.breaker.state == "open", "open for all of breaker_open_s"
        clock.advance(1)
        assert client.breaker.state == "half_open"
        await client.get_product("7", ctx=CTX)
        assert client.breaker.state == "half_open", "one probe of two is not enough"
        await client.get_product("7", ctx=CTX)
        assert client.breaker.state == "closed"
    assert sent.count == 5


async def test_failed_probe_reopens_the_breaker() -> None:
    clock = FakeClock()
    async with client_for(CatalogClient, always(503), BREAKER, clock=clock) as (client, sent):
        for _ in range(3):
            with pytest.raises(CoreUnavailable):
                await client.get_product("7", ctx=CTX)
        clock.advance(BREAKER.breaker_open_s)
        with pytest.raises(CoreUnavailable):
            await client.get_product("7", ctx=CTX)
        assert client.breaker.state == "open"
        with pytest.raises(BreakerOpen):
            await client.get_product("7", ctx=CTX)
    assert sent.count == 4


async def test_half_open_lets_only_the_probes_through() -> None:
    clock = FakeClock()
    release = asyncio.Event()

    async def slow_ok(_request: httpx.Request) -> httpx.Response:
        await release.wait()
        return json_response(product("7"))

    async with client_for(CatalogClient, always(503), BREAKER, clock=clock) as (client, sent):
        for _ in range(3):
            with pytest.raises(CoreUnavailable):
                await client.get_product("7", ctx=CTX)
        clock.advance(BREAKER.breaker_open_s)
        sent.responder = slow_ok
        probes = [asyncio.create_task(client.get_product("7", ctx=CTX)) for _ in range(2)]
        await sent.arrived(5)  # both probes are at the service
        with pytest.raises(BreakerOpen):
            await client.get_product("7", ctx=CTX)
        release.set()
        await asyncio.gather(*probes)
        assert client.breaker.state == "closed"
    assert sent.count == 5


async def test_cancelled_probe_frees_its_slot() -> None:
    """A probe cancelled by its caller neither closes nor re-opens, and does not leak a slot."""
    clock = FakeClock()
    hang = asyncio.Event()

    async def hanging(_request: httpx.Request) -> httpx.Response:
        await hang.wait()
        raise AssertionError("never answered")

    async with client_for(CatalogClient, always(503), BREAKER, clock=clock) as (client, sent):
        for _ in range(3):
            with pytest.raises(CoreUnavailable):
                await client.get_product("7", ctx=CTX)
        clock.advance(BREAKER.breaker_open_s)
        sent.responder = hanging
        probes = [asyncio.create_task(client.get_product("7", ctx=CTX)) for _ in range(2)]
        await sent.arrived(5)  # both probes are at the service
        for probe in probes:
            probe.cancel()
        await asyncio.gather(*probes, return_exceptions=True)
        assert client.breaker.state == "half_open"
        sent.responder = always(200, product("7"))
        await client.get_product("7", ctx=CTX)
        await client.get_product("7", ctx=CTX)
        assert client.breaker.state == "closed"


async def test_not_found_and_rejections_do_not_open_the_breaker() -> None:
    answers = sequence(*[httpx.Response(404)] * 5, *[httpx.Response(409)] * 5)
    async with client_for(CatalogClient, answers, BREAKER) as (client, sent):
        for _ in range(10):
            with pytest.raises((CoreNotFound, CoreRejected)):
                await client.get_product("7", ctx=CTX)
        assert client.breaker.state == "closed"
    assert sent.count == 10


async def test_a_success_resets_the_failure_count() -> None:
    answers = sequence(
        httpx.Response(503),
        httpx.Response(503),
        json_response(product("7")),
        httpx.Response(503),
        httpx.Response(503),
    )
    async with client_for(CatalogClient, answers, BREAKER) as (client, _):
        for expect_ok in [False, False, True, False, False]:
            if expect_ok:
                await client.get_product("7", ctx=CTX)
            else:
                with pytest.raises(CoreUnavailable):
                    await client.get_product("7", ctx=CTX)
        assert client.breaker.state == "closed"


# --- deadline ------------------------------------------------------------------------------


async def test_hanging_service_is_cut_off_at_the_deadline() -> None:
    """A call never outlives the request deadline, whatever the transport does."""
    cancelled = asyncio.Event()

    async def hang(_request: httpx.Request) -> httpx.Response:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("not reached")

    async with client_for(CatalogClient, hang) as (client, sent):
        started = time.monotonic()
        with deadline_scope(Deadline.after(0.3)), pytest.raises(CoreTimeout) as caught:
            await client.get_product("7", ctx=CTX)
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert cancelled.is_set()
    assert caught.value.service == "catalog"
    assert sent.count == 1


async def test_backoff_never_sleeps_past_the_deadline() -> None:
    slow_backoff = ServicePolicy(backoff_base=5.0, backoff_cap=5.0)
    async with client_for(CatalogClient, always(503), slow_backoff) as (client, _):
        started = time.monotonic()
        with deadline_scope(Deadline.after(0.3)), pytest.raises((CoreUnavailable, CoreTimeout)):
            await client.get_product("7", ctx=CTX)
    assert time.monotonic() - started < 2.0


async def test_expired_deadline_fails_without_a_request() -> None:
    async with client_for(CatalogClient, always(200, product())) as (client, sent):
        with deadline_scope(Deadline.after(-1)), pytest.raises(CoreTimeout):
            await client.get_product("7", ctx=CTX)
    assert sent.count == 0


async def test_deadline_timeout_counts_as_a_breaker_failure() -> None:
    async def hang(_request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    policy = ServicePolicy(breaker_failure_threshold=1)
    async with client_for(CatalogClient, hang, policy) as (client, _):
        with deadline_scope(Deadline.after(0.05)), pytest.raises(CoreTimeout):
            await client.get_product("7", ctx=CTX)
        assert client.breaker.state == "open"
