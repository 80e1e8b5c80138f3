"""The call counters at ``/_stats``: what got through to each service, and the propagated
headers it last saw."""

from __future__ import annotations

import uuid

import httpx

from tests.devstack.core_stubs_support import SERVICE_CALLS, client, set_chaos

__all__ = ["client"]  # a fixture, used by name


# --------------------------------------------------------------------------- counters


def test_calls_are_counted_per_service_method_and_route_template(client: httpx.Client) -> None:
    """Counters name the route template, so tests can assert how many calls got through."""
    for method, path, _ in SERVICE_CALLS:
        body = {"sub": "alice", "lines": [{"productId": "1", "quantity": 1}]}
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        client.request(method, path, json=body if method == "POST" else None, headers=headers)
    client.get("/catalog/v1/products/8")
    client.get("/health")
    client.get("/_chaos")
    expected = {call: 1 for _, _, call in SERVICE_CALLS}
    expected["catalog GET /v1/products/{id}"] = 2
    assert client.get("/_stats").json()["calls"] == expected


def test_calls_failed_by_chaos_are_counted_too(client: httpx.Client) -> None:
    """A call the stubs failed on purpose still reached the service and counts as one."""
    set_chaos(client, "catalog", errorRate=1.0)
    client.get("/catalog/v1/products/7")
    client.get("/catalog/v1/products/7")
    assert client.get("/_stats").json()["calls"] == {"catalog GET /v1/products/{id}": 2}


def test_deleting_stats_starts_the_count_again(client: httpx.Client) -> None:
    """DELETE /_stats zeroes the counters and forgets the last headers seen."""
    client.get(
        "/catalog/v1/products/7", headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}
    )
    assert client.get("/_stats").json()["calls"]
    assert client.delete("/_stats").status_code == 204
    assert client.get("/_stats").json() == {
        "calls": {}, "lastTraceparent": {}, "lastDeadlineMs": {}, "lastRequestId": {},
        "lastDpopJkt": {}, "dpopRefusals": 0,
    }  # fmt: skip


def test_the_last_propagated_headers_are_kept_per_service(client: httpx.Client) -> None:
    """traceparent, deadline and request id are kept per service to check propagation."""
    first = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    last = "00-" + "3" * 32 + "-" + "4" * 16 + "-01"
    client.get("/catalog/v1/products/7", headers={"traceparent": first})
    client.get(
        "/catalog/v1/products/8",
        headers={"traceparent": last, "X-Deadline-Ms": "1234", "X-Request-Id": "req-1"},
    )
    client.get("/accounts/v1/accounts/alice", headers={"traceparent": first})
    stats = client.get("/_stats").json()
    assert stats["lastTraceparent"] == {"catalog": last, "accounts": first}
    assert stats["lastDeadlineMs"] == {"catalog": "1234"}
    assert stats["lastRequestId"] == {"catalog": "req-1"}
