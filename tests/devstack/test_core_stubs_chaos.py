"""Faults on demand: the bearer check in front of every service call, the chaos modes
(error, timeout, reset, garbage, latency), and faults set at start-up."""

from __future__ import annotations

import logging
import time

import httpx
import msgspec
import pytest

from devstack.core_stubs import ChaosSpec, Product, create_stubs_app
from tests.devstack.core_stubs_support import AUTH, SERVICE_CALLS, client, set_chaos
from tests.fixtures.servers import serve_in_thread

__all__ = ["client"]  # a fixture, used by name


# --------------------------------------------------------------------------- bearer check


@pytest.mark.parametrize(("method", "path", "call"), SERVICE_CALLS)
@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwdw==", "Bearer"])
def test_every_service_call_without_a_bearer_token_is_401_and_still_counted(
    core_stubs: str, method: str, path: str, call: str, authorization: str | None
) -> None:
    """Calls without a usable bearer are refused with JSON, and the counters still see them."""
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = httpx.request(method, f"{core_stubs}{path}", headers=headers)
    assert response.status_code == 401
    assert response.json()["status"] == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{core_stubs}/_stats").json()["calls"] == {call: 1}


# --------------------------------------------------------------------------- chaos


def test_error_chaos_answers_the_chosen_status_for_that_service_only(
    client: httpx.Client,
) -> None:
    """An injected error is a JSON answer with the chosen status; other services are unaffected."""
    set_chaos(client, "catalog", errorRate=1.0, status=502)
    response = client.get("/catalog/v1/products/7")
    assert response.status_code == 502
    assert response.json()["status"] == 502
    assert client.get("/accounts/v1/accounts/alice").status_code == 200


def test_timeout_chaos_hangs_past_the_client_deadline(client: httpx.Client) -> None:
    """A timed-out call gives the client nothing before its own deadline runs out."""
    set_chaos(client, "orders", errorRate=1.0, mode="timeout")
    with pytest.raises(httpx.ReadTimeout):
        client.get("/orders/v1/accounts/alice/orders", timeout=0.3)
    client.delete("/_chaos")
    assert client.get("/orders/v1/accounts/alice/orders").status_code == 200


def test_a_hung_call_ends_when_its_client_leaves() -> None:
    """The hang stops when the client disconnects, so the server can still shut down promptly."""
    chaos = {"orders": ChaosSpec(error_rate=1.0, mode="timeout")}
    with serve_in_thread(create_stubs_app(chaos=chaos)) as base_url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{base_url}/orders/v1/accounts/a/orders", headers=AUTH, timeout=0.2)
        leaving = time.monotonic()
    assert time.monotonic() - leaving < 3


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_reset_chaos_drops_the_connection_mid_response_without_logging_an_error(
    client: httpx.Client,
) -> None:
    """The client sees a transport error; the server log stays clean, since it was on purpose."""
    set_chaos(client, "recommendations", errorRate=1.0, mode="reset")
    server_log, collected = logging.getLogger("uvicorn.error"), _Collect()
    server_log.addHandler(collected)
    try:
        with pytest.raises(httpx.TransportError):
            client.get("/recommendations/v1/accounts/alice/recommendations")
    finally:
        server_log.removeHandler(collected)
    assert collected.records == []
    assert client.get("/catalog/v1/products/7").status_code == 200


def test_garbage_chaos_answers_200_with_a_body_outside_the_contract(
    client: httpx.Client,
) -> None:
    """Garbage looks like success but cannot be decoded into the contract's shape."""
    set_chaos(client, "catalog", errorRate=1.0, mode="garbage")
    for _ in range(6):
        response = client.get("/catalog/v1/products/7")
        assert response.status_code == 200
        with pytest.raises(msgspec.DecodeError):
            msgspec.json.decode(response.content, type=Product)


def test_latency_chaos_slows_only_that_service(client: httpx.Client) -> None:
    """Latency plus jitter delays every call of one service and no other."""
    set_chaos(client, "accounts", latencyMs=150, jitterMs=50)
    started = time.monotonic()
    assert client.get("/accounts/v1/accounts/alice").status_code == 200
    assert 0.15 <= time.monotonic() - started < 1.0
    started = time.monotonic()
    client.get("/catalog/v1/products/7")
    assert time.monotonic() - started < 0.15


def test_a_partial_error_rate_fails_some_calls_and_not_others(client: httpx.Client) -> None:
    """errorRate is a probability per call, which is what retries and breakers are tested with."""
    set_chaos(client, "catalog", errorRate=0.5)
    statuses = {client.get("/catalog/v1/products/7").status_code for _ in range(40)}
    assert statuses == {200, 503}


def test_chaos_can_be_read_back_and_cleared(client: httpx.Client) -> None:
    """GET /_chaos shows every service's faults; DELETE /_chaos turns them all off."""
    set_chaos(client, "catalog", errorRate=1.0, mode="garbage")
    set_chaos(client, "orders", latencyMs=5)
    shown = client.get("/_chaos").json()
    assert set(shown) == {"accounts", "catalog", "orders", "recommendations"}
    assert shown["catalog"]["mode"] == "garbage"
    assert shown["orders"]["latencyMs"] == 5
    assert client.delete("/_chaos").status_code == 204
    assert all(
        spec == msgspec.to_builtins(ChaosSpec()) for spec in client.get("/_chaos").json().values()
    )
    msgspec.json.decode(client.get("/catalog/v1/products/7").content, type=Product)


def test_chaos_for_an_unknown_service_or_knob_is_refused(client: httpx.Client) -> None:
    """A typo must not quietly mean "no fault"."""
    assert client.put("/_chaos/payments", json={"errorRate": 1.0}).status_code == 404
    assert client.put("/_chaos/catalog", json={"errorrate": 1.0}).status_code == 400
    assert client.put("/_chaos/catalog", json={"mode": "explode"}).status_code == 400
    assert client.put("/_chaos/catalog", json={"errorRate": 2}).status_code == 400


def test_start_up_knobs_set_latency_for_all_and_initial_chaos() -> None:
    """Benchmarks start the stubs slow and faulty; clearing chaos keeps the base latency."""
    chaos = {"catalog": ChaosSpec(error_rate=1.0, status=500)}
    app = create_stubs_app(latency_ms=100, chaos=chaos)
    with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url, headers=AUTH) as client:
        assert client.get("/catalog/v1/products/7").status_code == 500
        client.delete("/_chaos")
        started = time.monotonic()
        assert client.get("/catalog/v1/products/7").status_code == 200
        assert time.monotonic() - started >= 0.1
    with pytest.raises(ValueError, match="payments"):
        create_stubs_app(chaos={"payments": ChaosSpec()})
