"""The core clients against the real stub services over sockets: retry budget and breaker."""

from __future__ import annotations

import contextlib
import time

import httpx
import pytest

from core_clients.base import CallContext
from core_clients.catalog import CatalogClient
from core_clients.policy import ServicePolicy
from core_clients.transport import build_http_client
from shared.platform.errors import CoreError
from tests.fixtures.clock import FakeClock

pytestmark = pytest.mark.anyio
CTX = CallContext(access_token="test-token", request_id="req-budget-test")


async def catalog_calls(control: httpx.AsyncClient) -> int:
    calls: dict[str, int] = (await control.get("/_stats")).json()["calls"]
    return sum(count for route, count in calls.items() if route.startswith("catalog "))


async def test_retries_stay_within_the_budget_when_the_catalog_fails_half_the_time(
    core_stubs: str,
) -> None:
    """At 50 % failure, three attempts a call would make ~1.75 calls each; the budget holds it
    to 20 % extra, plus a floor of a few retries a second."""
    policy = ServicePolicy(breaker_failure_threshold=10_000, backoff_base=0.001, backoff_cap=0.002)
    calls = 300
    async with httpx.AsyncClient(base_url=core_stubs) as control:
        (await control.put("/_chaos/catalog", json={"errorRate": 0.5})).raise_for_status()
        (await control.delete("/_stats")).raise_for_status()
        async with build_http_client(f"{core_stubs}/catalog", policy) as http:
            client = CatalogClient(http, policy)
            started = time.monotonic()
            for product in range(1, calls + 1):
                with contextlib.suppress(CoreError):
                    await client.get_product(str(product % 500 + 1), ctx=CTX)
            elapsed = time.monotonic() - started
        total = await catalog_calls(control)
    floor = policy.retry_budget_min_per_s
    allowed = calls * (1 + policy.retry_budget_ratio) + floor * (elapsed + 1)
    assert calls < total <= allowed, (total, allowed, elapsed)
    assert total < calls * 1.75 * 0.9


async def test_an_open_breaker_sends_nothing_until_it_half_opens(core_stubs: str) -> None:
    policy = ServicePolicy(breaker_failure_threshold=3, breaker_open_s=5, max_attempts=1)
    clock = FakeClock()
    async with httpx.AsyncClient(base_url=core_stubs) as control:
        (await control.put("/_chaos/catalog", json={"errorRate": 1.0})).raise_for_status()
        async with build_http_client(f"{core_stubs}/catalog", policy) as http:
            client = CatalogClient(http, policy, clock=clock)
            for _ in range(3):
                with pytest.raises(CoreError):
                    await client.get_product("7", ctx=CTX)
            assert client.breaker.state == "open"
            (await control.delete("/_stats")).raise_for_status()
            for _ in range(20):
                with pytest.raises(CoreError):
                    await client.get_product("7", ctx=CTX)
            assert await catalog_calls(control) == 0
            (await control.delete("/_chaos")).raise_for_status()
            clock.advance(policy.breaker_open_s)
            for _ in range(3):
                assert (await client.get_product("7", ctx=CTX)).id == "7"
            assert client.breaker.state == "closed"
