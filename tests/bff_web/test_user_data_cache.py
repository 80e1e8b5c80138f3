"""A user's screen data held by the instance that serves them (``shared.cache.generations``):
once the session is known there, a screen's per-user entries cost no Redis command of their
own, and an invalidation on another instance (an order placed) shows on the very next screen.

The gateways run on a clock that does not move, so level 1 would hold its entries for ever:
only the generations read with each session can make an instance read again."""

from __future__ import annotations

import httpx
import pytest
import redis

from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import StartGateway, log_in_browser
from tests.fixtures.idp import IdpServer

CSRF = {"X-CSRF": "1"}


def command_calls(client: redis.Redis, command: str) -> int:
    stats = client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


@pytest.fixture
def raw_redis(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def test_once_the_session_is_known_a_screens_user_data_costs_no_redis_read(
    idp: IdpServer,
    core_stubs: str,
    start_gateway: StartGateway,
    redis_url: str,
    raw_redis: redis.Redis,
) -> None:
    web = start_gateway(
        "web", idp_url=idp.url, stubs_url=core_stubs, redis_url=redis_url, clock=FakeClock()
    )
    with httpx.Client(base_url=web.url, headers=CSRF, timeout=20) as alice:
        log_in_browser(alice, web.url, sub="alice")
        first, second = alice.get("/api/home"), alice.get("/api/home")
        assert first.status_code == second.status_code == 200
        generation_reads = command_calls(raw_redis, "hget")
        third = alice.get("/api/home")
        assert third.status_code == 200
        assert third.json() == second.json()
        # The user's entries (account, orders, recommendations) were each read as HGET (the
        # user's generation of the kind) + GET; now the generations come in one HGETALL in
        # the session's round trip, and the entries from this instance.
        assert command_calls(raw_redis, "hget") == generation_reads


def test_an_order_placed_on_one_instance_shows_on_the_next_screen_of_another(
    idp: IdpServer,
    core_stubs: str,
    start_gateway: StartGateway,
    redis_url: str,
) -> None:
    clock = FakeClock()
    first, second = (
        start_gateway(
            "web", idp_url=idp.url, stubs_url=core_stubs, redis_url=redis_url, clock=clock
        )
        for _ in range(2)
    )
    with httpx.Client(headers=CSRF, timeout=20) as browser:
        log_in_browser(browser, first.url, sub="carol")
        orders = [browser.get(f"{first.url}/api/orders", params={"limit": 1}) for _ in range(3)]
        assert [response.status_code for response in orders] == [200] * 3
        body = {"lines": [{"productId": "3", "quantity": 1}]}
        placed = browser.post(
            f"{second.url}/api/orders", json=body, headers={"Idempotency-Key": "order-key-cross-1"}
        )
        assert placed.status_code == 201, placed.text
        after = browser.get(f"{first.url}/api/orders", params={"limit": 1})
        assert after.status_code == 200
        assert after.json()["items"][0]["id"] == placed.json()["id"]
