"""Web screens against the real stubs, through a real login: shaping, degradation, caching."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import RunningGateway, StartGateway, log_in_browser
from tests.fixtures.idp import IdpServer

CSRF = {"X-CSRF": "1"}


@pytest.fixture
def web(idp: IdpServer, core_stubs: str, start_gateway: StartGateway) -> RunningGateway:
    return start_gateway("web", idp_url=idp.url, stubs_url=core_stubs)


@pytest.fixture
def alice(web: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, headers=CSRF, timeout=20) as client:
        log_in_browser(client, web.url, sub="alice")
        yield client


def chaos(stubs: str, service: str, **spec: Any) -> None:
    httpx.put(f"{stubs}/_chaos/{service}", json=spec).raise_for_status()


def calls(stubs: str) -> dict[str, int]:
    counts: dict[str, int] = httpx.get(f"{stubs}/_stats").json()["calls"]
    return counts


def reset_stats(stubs: str) -> None:
    httpx.delete(f"{stubs}/_stats").raise_for_status()


def test_home_is_display_ready(alice: httpx.Client) -> None:
    response = alice.get("/api/home")
    assert response.status_code == 200, response.text
    home = response.json()
    assert home["greeting"].startswith("Welcome back, ")
    assert home["degraded"] == []
    assert "x-bff-degraded" not in response.headers
    assert len(home["recentOrders"]) <= 3
    assert len(home["recommendations"]) > 0
    card = home["recommendations"][0]
    assert set(card) >= {"id", "title", "price", "priceLabel", "imageUrl", "rating"}
    assert card["price"]["amountMinor"] > 0
    for order in home["recentOrders"]:
        assert order["totalLabel"]
        assert order["placedAtLabel"]


def test_home_without_recommendations_is_degraded_not_failed(
    alice: httpx.Client, core_stubs: str
) -> None:
    """If recommendations are down, home still answers, without recommendations."""
    chaos(core_stubs, "recommendations", errorRate=1.0, status=503)
    response = alice.get("/api/home")
    assert response.status_code == 200
    assert response.json()["degraded"] == ["recommendations"]
    assert response.json()["recommendations"] == []
    assert response.headers["x-bff-degraded"] == "recommendations"


def test_home_without_accounts_is_a_503_problem(alice: httpx.Client, core_stubs: str) -> None:
    chaos(core_stubs, "accounts", errorRate=1.0, status=503)
    response = alice.get("/api/home")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert "127.0.0.1" not in response.text
    assert body["traceId"]


def test_hanging_orders_do_not_hold_home_past_its_deadline(
    idp: IdpServer, core_stubs: str, start_gateway: StartGateway
) -> None:
    """Orders hang: home answers within its deadline (generous slack), orders degraded."""
    web = start_gateway("web", idp_url=idp.url, stubs_url=core_stubs, BFF_SCREEN_DEADLINE="1.0")
    with httpx.Client(base_url=web.url, headers=CSRF, timeout=20) as client:
        log_in_browser(client, web.url)
        chaos(core_stubs, "orders", mode="timeout", errorRate=1.0)
        started = time.monotonic()
        response = client.get("/api/home")
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert "orders" in response.json()["degraded"]
    assert elapsed < 3.0


@pytest.mark.parametrize("mode", ["garbage", "reset"])
def test_garbage_and_resets_give_clean_problems(
    alice: httpx.Client, core_stubs: str, mode: str
) -> None:
    chaos(core_stubs, "catalog", mode=mode, errorRate=1.0)
    response = alice.get("/api/products/7")
    assert response.status_code in (502, 503)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in response.text


def test_product_page_with_availability_and_related(alice: httpx.Client) -> None:
    response = alice.get("/api/products/7")
    assert response.status_code == 200
    product = response.json()
    assert product["id"] == "7"
    assert product["availability"]["label"]
    assert all(card["id"] != "7" for card in product["related"])
    assert product["priceLabel"]


def test_unknown_product_is_a_404_problem(alice: httpx.Client) -> None:
    response = alice.get("/api/products/999999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_concurrent_requests_for_a_cold_product_reach_the_catalog_once(
    alice: httpx.Client, core_stubs: str
) -> None:
    reset_stats(core_stubs)
    cookies = dict(alice.cookies)

    def fetch(_: int) -> int:
        return httpx.get(
            f"{alice.base_url}/api/products/42", headers=CSRF, cookies=cookies, timeout=30
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(fetch, range(200)))
    assert statuses == [200] * 200
    assert calls(core_stubs).get("catalog GET /v1/products/{id}") == 1


def test_stale_product_is_served_while_the_catalog_fails(
    idp: IdpServer, core_stubs: str, start_gateway: StartGateway
) -> None:
    """Stale-if-error: a warm product is still served, marked stale, while the catalog fails."""
    clock = FakeClock()
    web = start_gateway(
        "web", idp_url=idp.url, stubs_url=core_stubs, BFF_CACHE_PRODUCT_TTL="0.5", clock=clock
    )
    with httpx.Client(base_url=web.url, headers=CSRF, timeout=20) as client:
        log_in_browser(client, web.url)
        assert client.get("/api/products/11").status_code == 200
        chaos(core_stubs, "catalog", errorRate=1.0, status=503)
        clock.advance(0.8)
        marks = []
        for _ in range(3):
            response = client.get("/api/products/11")
            assert response.status_code == 200
            assert response.json()["id"] == "11"
            marks.append(response.headers.get("x-bff-cache"))
            clock.advance(0.2)
    assert set(marks) <= {"stale", "stale_error"}
    assert "stale_error" in marks or "stale" in marks


def test_two_instances_on_one_redis_load_a_cold_product_once(
    idp: IdpServer, core_stubs: str, start_gateway: StartGateway, redis_url: str
) -> None:
    first = start_gateway("web", idp_url=idp.url, stubs_url=core_stubs, redis_url=redis_url)
    second = start_gateway("web", idp_url=idp.url, stubs_url=core_stubs, redis_url=redis_url)
    with httpx.Client(headers=CSRF, timeout=20) as browser:
        log_in_browser(browser, first.url)
        cookies = dict(browser.cookies)
    reset_stats(core_stubs)

    def fetch(n: int) -> int:
        base = first.url if n % 2 else second.url
        return httpx.get(
            f"{base}/api/products/77", headers=CSRF, cookies=cookies, timeout=30
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(fetch, range(200)))
    assert statuses == [200] * 200
    assert calls(core_stubs).get("catalog GET /v1/products/{id}") == 1


def test_the_breaker_fails_fast_then_recovers_through_half_open(
    idp: IdpServer, core_stubs: str, start_gateway: StartGateway
) -> None:
    clock = FakeClock()
    web = start_gateway(
        "web",
        idp_url=idp.url,
        stubs_url=core_stubs,
        clock=clock,
        BFF_CORE_CATALOG_BREAKER_FAILURES="3",
        BFF_CORE_CATALOG_BREAKER_OPEN_SECONDS="1",
        BFF_CORE_CATALOG_MAX_ATTEMPTS="1",
    )
    with httpx.Client(base_url=web.url, headers=CSRF, timeout=20) as client:
        log_in_browser(client, web.url)
        chaos(core_stubs, "catalog", errorRate=1.0, status=503)
        reset_stats(core_stubs)
        for product in range(100, 103):
            assert client.get(f"/api/products/{product}").status_code == 503
        reached = calls(core_stubs).get("catalog GET /v1/products/{id}", 0)
        for product in range(103, 113):
            assert client.get(f"/api/products/{product}").status_code == 503
        assert calls(core_stubs).get("catalog GET /v1/products/{id}", 0) == reached

        httpx.delete(f"{core_stubs}/_chaos").raise_for_status()
        clock.advance(1.2)  # past the breaker's open period
        recovered = [client.get(f"/api/products/{p}").status_code for p in range(120, 124)]
    assert recovered == [200, 200, 200, 200]


def test_orders_page_has_titles_from_one_batch_call(alice: httpx.Client, core_stubs: str) -> None:
    reset_stats(core_stubs)
    response = alice.get("/api/orders", params={"limit": 5})
    assert response.status_code == 200
    page = response.json()
    assert len(page["items"]) <= 5
    if page["items"]:
        assert page["items"][0]["lines"][0]["title"]
    stats = calls(core_stubs)
    assert stats.get("catalog GET /v1/products", 0) <= 1
    assert stats.get("catalog GET /v1/products/{id}", 0) == 0


@pytest.mark.parametrize("limit", ["0", "51", "abc"])
def test_orders_limit_out_of_range_is_a_400(alice: httpx.Client, limit: str) -> None:
    response = alice.get("/api/orders", params={"limit": limit})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


def test_placing_an_order_is_idempotent_and_refreshes_history(
    alice: httpx.Client, core_stubs: str
) -> None:
    before = alice.get("/api/orders", params={"limit": 1}).json()["items"]
    body = {"lines": [{"productId": "3", "quantity": 2}]}
    key = {"Idempotency-Key": "order-key-0001"}
    first = alice.post("/api/orders", json=body, headers=key)
    assert first.status_code == 201, first.text
    replay = alice.post("/api/orders", json=body, headers=key)
    assert replay.json()["id"] == first.json()["id"]
    after = alice.get("/api/orders", params={"limit": 1}).json()["items"]
    assert after[0]["id"] == first.json()["id"]
    assert not before or before[0]["id"] != after[0]["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"lines": []},
        {"lines": [{"productId": "3", "quantity": 0}]},
        {"lines": [{"productId": "3", "quantity": 100}]},
        {"lines": [{"productId": "3", "quantity": 1}] * 21},
        {"lines": [{"productId": "../x", "quantity": 1}]},
        {"nope": 1},
    ],
)
def test_invalid_orders_are_400_problems(alice: httpx.Client, body: dict[str, Any]) -> None:
    response = alice.post("/api/orders", json=body, headers={"Idempotency-Key": "order-key-0002"})
    assert response.status_code == 400


def test_an_order_for_an_unknown_product_is_a_422_and_a_reused_key_a_409(
    alice: httpx.Client,
) -> None:
    unknown = alice.post(
        "/api/orders",
        json={"lines": [{"productId": "999999", "quantity": 1}]},
        headers={"Idempotency-Key": "order-key-0003"},
    )
    assert unknown.status_code == 422
    assert unknown.headers["content-type"].startswith("application/problem+json")
    key = {"Idempotency-Key": "order-key-0004"}
    first = alice.post(
        "/api/orders", json={"lines": [{"productId": "3", "quantity": 1}]}, headers=key
    )
    assert first.status_code == 201
    other = alice.post(
        "/api/orders", json={"lines": [{"productId": "4", "quantity": 1}]}, headers=key
    )
    assert other.status_code == 409


def test_an_order_without_idempotency_key_is_a_400(alice: httpx.Client) -> None:
    response = alice.post("/api/orders", json={"lines": [{"productId": "3", "quantity": 1}]})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]


def test_screens_need_a_session(web: RunningGateway) -> None:
    response = httpx.get(f"{web.url}/api/home", headers=CSRF)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_two_users_never_see_each_others_data(web: RunningGateway) -> None:
    with (
        httpx.Client(base_url=web.url, headers=CSRF) as alice,
        httpx.Client(base_url=web.url, headers=CSRF) as bob,
    ):
        log_in_browser(alice, web.url, sub="alice")
        log_in_browser(bob, web.url, sub="bob")
        for _ in range(2):  # the second round is served warm from the cache
            alice_home, bob_home = alice.get("/api/home").json(), bob.get("/api/home").json()
            assert alice_home["greeting"] != bob_home["greeting"]
            alice_orders = alice.get("/api/orders").json()["items"]
            bob_orders = bob.get("/api/orders").json()["items"]
            assert {o["id"] for o in alice_orders}.isdisjoint({o["id"] for o in bob_orders})
