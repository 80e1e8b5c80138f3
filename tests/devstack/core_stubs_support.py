"""What the core-stub tests share: the bearer header, one call per service route, a client of
the session's stubs, and helpers to place orders, read histories and set faults."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

AUTH = {"Authorization": "Bearer test-token"}
SERVICE_CALLS = [
    ("GET", "/accounts/v1/accounts/alice", "accounts GET /v1/accounts/{sub}"),
    ("GET", "/catalog/v1/products/7", "catalog GET /v1/products/{id}"),
    ("GET", "/catalog/v1/products?ids=1,2", "catalog GET /v1/products"),
    ("GET", "/catalog/v1/products/7/inventory", "catalog GET /v1/products/{id}/inventory"),
    ("GET", "/orders/v1/accounts/alice/orders", "orders GET /v1/accounts/{sub}/orders"),
    ("POST", "/orders/v1/orders", "orders POST /v1/orders"),
    (
        "GET",
        "/recommendations/v1/accounts/alice/recommendations",
        "recommendations GET /v1/accounts/{sub}/recommendations",
    ),
]


@pytest.fixture
def client(core_stubs: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=core_stubs, headers=AUTH, timeout=5) as client:
        yield client


def place(client: httpx.Client, sub: str, key: str | None, **line: Any) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    lines = [{"productId": "7", "quantity": 1} | line]
    return client.post("/orders/v1/orders", json={"sub": sub, "lines": lines}, headers=headers)


def all_orders(client: httpx.Client, sub: str) -> list[dict[str, Any]]:
    page = client.get(f"/orders/v1/accounts/{sub}/orders", params={"limit": 50}).json()
    assert page["nextCursor"] is None, "test subs are expected to fit on one page of 50"
    items: list[dict[str, Any]] = page["items"]
    return items


def sub_with_orders(client: httpx.Client, prefix: str, at_least: int) -> str:
    for n in range(200):
        sub = f"{prefix}-{n}"
        if len(all_orders(client, sub)) >= at_least:
            return sub
    raise AssertionError(f"no sub with {at_least} orders among {prefix}-0..199")


def set_chaos(client: httpx.Client, service: str, **spec: Any) -> None:
    client.put(f"/_chaos/{service}", json=spec).raise_for_status()


def new_sub() -> str:
    return f"buyer-{uuid.uuid4().hex[:12]}"
