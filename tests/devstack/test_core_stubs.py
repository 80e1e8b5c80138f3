"""The stand-in core services keep the CORE_SERVICES.md contract, over real sockets: seeded
accounts, catalog and recommendations, order histories with cursors, idempotent placing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import msgspec
import pytest

from devstack.core_stubs import Product, create_stubs_app
from tests.devstack.core_stubs_support import (
    AUTH,
    all_orders,
    client,
    new_sub,
    place,
    sub_with_orders,
)
from tests.fixtures.servers import serve_in_thread

__all__ = ["client"]  # a fixture, used by name


# --------------------------------------------------------------------------- accounts


def test_health_answers_without_a_token(core_stubs: str) -> None:
    """Health is for probes, which carry no token."""
    assert httpx.get(f"{core_stubs}/health").status_code == 200


def test_any_sub_gets_the_same_complete_profile_every_time(client: httpx.Client) -> None:
    """Any sub has a profile, and asking twice gives the same one."""
    first = client.get("/accounts/v1/accounts/alice")
    assert first.status_code == 200
    profile = first.json()
    assert profile == client.get("/accounts/v1/accounts/alice").json()
    assert set(profile) == {
        "id", "sub", "displayName", "email", "avatarUrl", "tier", "locale", "currency", "createdAt"
    }  # fmt: skip
    assert profile["sub"] == "alice"
    assert profile["currency"] == "EUR"
    assert profile["createdAt"].endswith("Z")
    assert profile["email"].isascii()


def test_profiles_vary_in_locale_so_formatting_can_be_tested(client: httpx.Client) -> None:
    """Different subs get different locales: en-GB, de-DE and fr-FR all occur."""
    locales = {client.get(f"/accounts/v1/accounts/u{n}").json()["locale"] for n in range(30)}
    assert locales == {"en-GB", "de-DE", "fr-FR"}


# --------------------------------------------------------------------------- catalog


def test_a_product_has_every_field_of_the_contract(client: httpx.Client, core_stubs: str) -> None:
    """A product carries price in EUR minor units and four image sizes, served by the stubs at
    the origin they were called by."""
    response = client.get("/catalog/v1/products/7")
    assert response.status_code == 200
    product = response.json()
    assert product["id"] == "7"
    assert set(product) == {
        "id", "title", "description", "price", "images", "category", "rating", "attributes"
    }  # fmt: skip
    assert product["price"]["currency"] == "EUR"
    assert isinstance(product["price"]["amountMinor"], int)
    assert [(i["width"], i["url"]) for i in product["images"]] == [
        (w, f"{core_stubs}/images/products/7/{w}.svg") for w in (160, 320, 480, 960)
    ]
    assert set(product["rating"]) == {"average", "count"}
    assert isinstance(product["attributes"], dict)
    msgspec.json.decode(response.content, type=Product)


@pytest.mark.parametrize("product_id", ["0", "501", "abc"])
def test_an_unknown_product_is_404(client: httpx.Client, product_id: str) -> None:
    """Only ids 1..500 exist; anything else is a JSON 404."""
    response = client.get(f"/catalog/v1/products/{product_id}")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_the_catalog_holds_exactly_500_products(client: httpx.Client) -> None:
    """Ids "1".."500" all exist and "501" does not."""
    ids = ",".join(str(n) for n in range(1, 502))
    items = client.get("/catalog/v1/products", params={"ids": ids}).json()["items"]
    assert [item["id"] for item in items] == [str(n) for n in range(1, 501)]


def test_a_batch_answers_in_the_order_asked_and_leaves_out_unknown_ids(
    client: httpx.Client,
) -> None:
    """A batch is one call that keeps the caller's order and drops ids that do not exist."""
    response = client.get("/catalog/v1/products", params={"ids": "42,999,3,abc,17"})
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == ["42", "3", "17"]
    assert response.json()["items"][0] == client.get("/catalog/v1/products/42").json()


def test_same_seed_gives_the_same_catalog_and_another_seed_another(client: httpx.Client) -> None:
    """Seeded data is reproducible across processes and changes with the seed (image URLs
    aside: they name the origin each server was called by)."""

    def product_7(base_url: str) -> str:
        answer = httpx.get(f"{base_url}/catalog/v1/products/7", headers=AUTH)
        return answer.text.replace(base_url, "")

    ours = product_7(str(client.base_url).rstrip("/"))
    with (
        serve_in_thread(create_stubs_app(seed=42)) as same,
        serve_in_thread(create_stubs_app(seed=7)) as other,
    ):
        assert product_7(same) == ours
        assert product_7(other) != ours


def test_inventory_says_whether_and_when_a_product_is_in_stock(client: httpx.Client) -> None:
    """Inventory is stable; out-of-stock products carry a restock date, in-stock ones none."""
    levels = [client.get(f"/catalog/v1/products/{n}/inventory").json() for n in range(1, 61)]
    assert levels[6] == client.get("/catalog/v1/products/7/inventory").json()
    assert levels[6]["productId"] == "7"
    out = [level for level in levels if not level["inStock"]]
    stocked = [level for level in levels if level["inStock"]]
    assert out, "some of the first 60 products are out of stock"
    assert all(level["quantity"] == 0 and level["restockDate"] for level in out)
    assert all(level["quantity"] > 0 and level["restockDate"] is None for level in stocked)
    assert client.get("/catalog/v1/products/501/inventory").status_code == 404


# --------------------------------------------------------------------------- orders


def test_order_history_is_newest_first_with_totals_that_add_up(client: httpx.Client) -> None:
    """Past orders reference real products at catalog prices, and their totals are the sums."""
    orders = all_orders(client, sub_with_orders(client, "history", at_least=5))
    placed = [order["placedAt"] for order in orders]
    assert placed == sorted(placed, reverse=True)
    assert all(when.endswith("Z") for when in placed)
    product_ids = {line["productId"] for order in orders for line in order["lines"]}
    catalog = client.get("/catalog/v1/products", params={"ids": ",".join(product_ids)}).json()
    prices = {item["id"]: item["price"] for item in catalog["items"]}
    assert set(prices) == product_ids
    for order in orders:
        assert all(line["unitPrice"] == prices[line["productId"]] for line in order["lines"])
        expected = sum(
            line["unitPrice"]["amountMinor"] * line["quantity"] for line in order["lines"]
        )
        assert order["total"] == {"amountMinor": expected, "currency": "EUR"}


def test_each_sub_has_between_0_and_40_orders(client: httpx.Client) -> None:
    """Histories are small enough to page through and some are empty, as for new customers."""
    counts = [len(all_orders(client, f"count-{n}")) for n in range(40)]
    assert all(0 <= count <= 40 for count in counts)
    assert len(set(counts)) > 5
    assert counts == [len(all_orders(client, f"count-{n}")) for n in range(40)]


def test_a_page_holds_10_orders_unless_asked_otherwise(client: httpx.Client) -> None:
    """The default page is 10; 1..50 may be asked for; anything else is a 400."""
    sub = sub_with_orders(client, "pagesize", at_least=12)
    assert len(client.get(f"/orders/v1/accounts/{sub}/orders").json()["items"]) == 10
    assert len(client.get(f"/orders/v1/accounts/{sub}/orders?limit=3").json()["items"]) == 3
    for limit in (0, 51, "ten"):
        response = client.get(f"/orders/v1/accounts/{sub}/orders", params={"limit": limit})
        assert response.status_code == 400


def test_a_cursor_not_issued_by_the_service_is_400(client: httpx.Client) -> None:
    """A made-up cursor is refused rather than silently restarting the walk."""
    response = client.get("/orders/v1/accounts/alice/orders", params={"cursor": "not-a-cursor!"})
    assert response.status_code == 400


def test_walking_the_pages_sees_every_order_once_even_if_one_is_placed_meanwhile(
    client: httpx.Client,
) -> None:
    """The cursor points after the last order seen, so a new order shifts nothing mid-walk."""
    sub = sub_with_orders(client, "pager", at_least=20)
    everything = [order["id"] for order in all_orders(client, sub)]
    seen: list[str] = []
    page = client.get(f"/orders/v1/accounts/{sub}/orders", params={"limit": 7}).json()
    seen += [order["id"] for order in page["items"]]
    new_order = place(client, sub, uuid.uuid4().hex).json()
    while page["nextCursor"]:
        params = {"limit": 7, "cursor": page["nextCursor"]}
        page = client.get(f"/orders/v1/accounts/{sub}/orders", params=params).json()
        seen += [order["id"] for order in page["items"]]
    assert seen == everything
    assert all_orders(client, sub)[0]["id"] == new_order["id"]


# --------------------------------------------------------------------------- placing orders


def test_placing_an_order_answers_201_and_puts_it_first_in_the_history(
    client: httpx.Client,
) -> None:
    """A new order is priced from the catalog, stamped now, and shown first."""
    sub = new_sub()
    response = place(client, sub, uuid.uuid4().hex, productId="12", quantity=3)
    assert response.status_code == 201
    assert "idempotent-replayed" not in response.headers
    order = response.json()
    price = client.get("/catalog/v1/products/12").json()["price"]
    assert order["status"] == "placed"
    assert order["lines"] == [{"productId": "12", "quantity": 3, "unitPrice": price}]
    assert order["total"] == {"amountMinor": 3 * price["amountMinor"], "currency": "EUR"}
    assert order["placedAt"].endswith("Z")
    assert all_orders(client, sub)[0] == order


def test_the_same_key_again_replays_the_same_order(client: httpx.Client) -> None:
    """A retried POST returns the first order, marked as a replay, and places nothing more."""
    sub, key = new_sub(), uuid.uuid4().hex
    before = len(all_orders(client, sub))
    first = place(client, sub, key)
    again = place(client, sub, key)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len(all_orders(client, sub)) == before + 1


@pytest.mark.anyio
async def test_twenty_concurrent_duplicates_place_exactly_one_order(core_stubs: str) -> None:
    """Duplicates racing each other still make one order; all of them get that order back."""
    sub, key = new_sub(), uuid.uuid4().hex
    body = {"sub": sub, "lines": [{"productId": "3", "quantity": 2}]}
    async with httpx.AsyncClient(base_url=core_stubs, headers=AUTH, timeout=5) as client:
        before = (await client.get(f"/orders/v1/accounts/{sub}/orders?limit=50")).json()["items"]
        responses = await asyncio.gather(
            *(
                client.post("/orders/v1/orders", json=body, headers={"Idempotency-Key": key})
                for _ in range(20)
            )
        )
        after = (await client.get(f"/orders/v1/accounts/{sub}/orders?limit=50")).json()["items"]
    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    assert sum("idempotent-replayed" in response.headers for response in responses) == 19
    assert len(after) == len(before) + 1


def test_the_same_key_with_another_body_is_409(client: httpx.Client) -> None:
    """A key belongs to one order; reusing it for another is a client bug worth refusing."""
    sub, key = new_sub(), uuid.uuid4().hex
    assert place(client, sub, key, quantity=1).status_code == 201
    assert place(client, sub, key, quantity=2).status_code == 409
    assert len(all_orders(client, sub)) >= 1


def test_placing_without_an_idempotency_key_is_400(client: httpx.Client) -> None:
    """Without a key a retry could place a second order, so the key is mandatory."""
    response = place(client, new_sub(), None)
    assert response.status_code == 400
    assert response.json()["status"] == 400


@pytest.mark.parametrize(
    "body",
    [
        {"sub": "x", "lines": [{"productId": "9999", "quantity": 1}]},
        {"sub": "x", "lines": [{"productId": "1", "quantity": 0}]},
        {"sub": "x", "lines": []},
        {"lines": [{"productId": "1", "quantity": 1}]},
        "not an order",
    ],
)
def test_an_unknown_product_or_invalid_body_is_422(client: httpx.Client, body: Any) -> None:
    """Orders name real products in positive quantities for a sub."""
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    response = client.post("/orders/v1/orders", json=body, headers=headers)
    assert response.status_code == 422


# --------------------------------------------------------------------------- recommendations


def test_recommendations_are_real_products_stable_per_sub(client: httpx.Client) -> None:
    """Ten by default, a prefix of the same ranking when fewer are asked, and stable."""
    url = "/recommendations/v1/accounts/alice/recommendations"
    ten = client.get(url).json()
    assert len(ten["productIds"]) == 10
    assert isinstance(ten["modelVersion"], str)
    assert ten == client.get(url).json()
    assert client.get(url, params={"limit": 3}).json()["productIds"] == ten["productIds"][:3]
    assert all(1 <= int(product_id) <= 500 for product_id in ten["productIds"])
    other = client.get("/recommendations/v1/accounts/bob/recommendations").json()
    assert other["productIds"] != ten["productIds"]
    assert client.get(url, params={"limit": 51}).status_code == 400
