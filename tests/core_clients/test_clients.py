"""Each client speaks its slice of the contract: paths, parameters, bodies, wire models."""

from __future__ import annotations

import httpx
import pytest

from core_clients import (
    Account,
    AccountsClient,
    CallContext,
    CatalogClient,
    NewOrderLine,
    OrdersClient,
    RecommendationsClient,
    UpstreamRejected,
)
from core_clients.wire import path_segment
from shared.platform.errors import CoreNotFound, CoreUnavailable
from tests.core_clients.samples import ACCOUNT, ORDER, product
from tests.core_clients.support import always, body_of, client_for, sequence

pytestmark = pytest.mark.anyio

CTX = CallContext(access_token="user-token-123", request_id="req-0001")


async def test_get_account() -> None:
    async with client_for(AccountsClient, always(200, ACCOUNT)) as (client, sent):
        account = await client.get_account("alice@example.test", ctx=CTX)
    assert account == Account(
        id="acc-1",
        sub="alice@example.test",
        display_name="Alice",
        email="alice@example.test",
        avatar_url="https://img.test/alice.png",
        tier="gold",
        locale="en-GB",
        currency="EUR",
        created_at="2024-01-02T03:04:05Z",
    )
    assert sent.requests[0].method == "GET"
    assert sent.requests[0].url.raw_path == b"/accounts/v1/accounts/alice%40example.test"


@pytest.mark.parametrize(
    ("sub", "segment"),
    [
        ("alice@example.test", "alice%40example.test"),
        ("a/../../admin", "a%2F..%2F..%2Fadmin"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("x?y#z w", "x%3Fy%23z%20w"),
    ],
)
async def test_path_segments_are_encoded_and_cannot_escape_the_route(
    sub: str, segment: str
) -> None:
    async with client_for(OrdersClient, always(200, {"items": []})) as (client, sent):
        await client.list_orders(sub, ctx=CTX)
    raw_path = sent.requests[0].url.raw_path.decode()
    assert raw_path == f"/orders/v1/accounts/{segment}/orders?limit=10"


def test_empty_path_segment_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        path_segment("")


async def test_get_product_and_inventory() -> None:
    inventory = {"productId": "7", "inStock": False, "quantity": 0, "restockDate": None, "x": 1}
    answers = sequence(httpx.Response(200, json=product("7")), httpx.Response(200, json=inventory))
    async with client_for(CatalogClient, answers) as (client, sent):
        item = await client.get_product("7", ctx=CTX)
        stock = await client.get_inventory("7", ctx=CTX)
    assert item.id == "7"
    assert (stock.product_id, stock.in_stock, stock.quantity, stock.restock_date) == (
        "7",
        False,
        0,
        None,
    )
    assert [r.url.path for r in sent.requests] == [
        "/catalog/v1/products/7",
        "/catalog/v1/products/7/inventory",
    ]


async def test_get_products_is_one_batch_call_in_the_order_asked() -> None:
    """No N+1: three products, one request; unknown ids are simply absent."""
    body = {"items": [product("3"), product("1")]}
    async with client_for(CatalogClient, always(200, body)) as (client, sent):
        items = await client.get_products(["3", "999", "1"], ctx=CTX)
    assert [p.id for p in items] == ["3", "1"]
    assert sent.count == 1
    assert sent.requests[0].url.path == "/catalog/v1/products"
    assert sent.requests[0].url.params["ids"] == "3,999,1"


async def test_get_products_with_no_ids_makes_no_call() -> None:
    async with client_for(CatalogClient, always(500)) as (client, sent):
        assert await client.get_products([], ctx=CTX) == []
    assert sent.count == 0


async def test_missing_product_is_not_found() -> None:
    async with client_for(CatalogClient, always(404)) as (client, _):
        with pytest.raises(CoreNotFound) as caught:
            await client.get_product("999", ctx=CTX)
    assert caught.value.service == "catalog"


async def test_list_orders_pages_with_cursor() -> None:
    page = {"items": [ORDER], "nextCursor": "c2", "extra": True}
    async with client_for(OrdersClient, always(200, page)) as (client, sent):
        first = await client.list_orders("alice", ctx=CTX)
        await client.list_orders("alice", cursor="c2", limit=5, ctx=CTX)
    assert first.next_cursor == "c2"
    order = first.items[0]
    assert (order.id, order.status, order.total.amount_minor) == ("ord-1", "placed", 3998)
    assert order.lines[0].unit_price.currency == "EUR"
    assert dict(sent.requests[0].url.params) == {"limit": "10"}
    assert dict(sent.requests[1].url.params) == {"cursor": "c2", "limit": "5"}


async def test_place_order_posts_camel_case_with_the_idempotency_key() -> None:
    async with client_for(OrdersClient, always(201, ORDER)) as (client, sent):
        order = await client.place_order(
            "alice",
            [NewOrderLine(product_id="7", quantity=2)],
            idempotency_key="checkout-42",
            ctx=CTX,
        )
    assert order.id == "ord-1"
    request = sent.requests[0]
    assert (request.method, request.url.path) == ("POST", "/orders/v1/orders")
    assert request.headers["idempotency-key"] == "checkout-42"
    assert request.headers["content-type"] == "application/json"
    assert body_of(request) == {"sub": "alice", "lines": [{"productId": "7", "quantity": 2}]}


async def test_place_order_is_retried_with_the_same_key() -> None:
    """The key makes a retry safe: the service answers a repeat with the same order."""
    answers = sequence(httpx.Response(503), httpx.Response(201, json=ORDER))
    async with client_for(OrdersClient, answers) as (client, sent):
        await client.place_order(
            "alice", [NewOrderLine(product_id="7", quantity=1)], idempotency_key="k1", ctx=CTX
        )
    assert [r.headers["idempotency-key"] for r in sent.requests] == ["k1", "k1"]


@pytest.mark.parametrize("status", [400, 409, 422])
async def test_place_order_rejection_keeps_the_status(status: int) -> None:
    async with client_for(OrdersClient, always(status, {"why": "sold out"})) as (client, sent):
        with pytest.raises(UpstreamRejected) as caught:
            await client.place_order(
                "alice", [NewOrderLine(product_id="7", quantity=1)], idempotency_key="k", ctx=CTX
            )
    assert caught.value.upstream_status == status
    assert sent.count == 1


async def test_place_order_needs_a_key() -> None:
    async with client_for(OrdersClient, always(201, ORDER)) as (client, sent):
        with pytest.raises(ValueError, match="idempotency key"):
            await client.place_order("alice", [], idempotency_key="", ctx=CTX)
    assert sent.count == 0


async def test_get_recommendations() -> None:
    body = {"productIds": ["4", "8"], "modelVersion": "m-2025-01", "experiment": "b"}
    async with client_for(RecommendationsClient, always(200, body)) as (client, sent):
        recs = await client.get_recommendations("alice", limit=2, ctx=CTX)
    assert (recs.product_ids, recs.model_version) == (["4", "8"], "m-2025-01")
    assert sent.requests[0].url.path == "/recommendations/v1/accounts/alice/recommendations"
    assert dict(sent.requests[0].url.params) == {"limit": "2"}


async def test_errors_name_the_service() -> None:
    async with client_for(RecommendationsClient, always(503)) as (client, _):
        with pytest.raises(CoreUnavailable) as caught:
            await client.get_recommendations("alice", ctx=CTX)
    assert caught.value.service == "recommendations"
