"""The stand-in core services keep the CORE_SERVICES.md contract, over real sockets."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from devstack.core_stubs import ChaosSpec, Product, create_stubs_app
from tests.fixtures.servers import serve_in_thread

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


def test_a_product_has_every_field_of_the_contract(client: httpx.Client) -> None:
    """A product carries price in EUR minor units and four image sizes on the CDN."""
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
        (w, f"https://cdn.example.com/products/7/{w}.jpg") for w in (160, 320, 480, 960)
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
    """Seeded data is reproducible across processes and changes with the seed."""
    ours = client.get("/catalog/v1/products/7").json()
    with (
        serve_in_thread(create_stubs_app(seed=42)) as same,
        serve_in_thread(create_stubs_app(seed=7)) as other,
    ):
        assert httpx.get(f"{same}/catalog/v1/products/7", headers=AUTH).json() == ours
        assert httpx.get(f"{other}/catalog/v1/products/7", headers=AUTH).json() != ours


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
        "calls": {}, "lastTraceparent": {}, "lastDeadlineMs": {}, "lastRequestId": {}
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
