"""Backoff and the retry budget: on their own on a fake clock, and in a client's calls."""

from __future__ import annotations

import time

import pytest

from core_clients.base import CallContext
from core_clients.catalog import CatalogClient
from core_clients.policy import ServicePolicy
from core_clients.retry import RetryBudget, full_jitter_backoff
from shared.platform.errors import CoreUnavailable
from tests.core_clients.support import always, client_for
from tests.fixtures.clock import FakeClock

CTX = CallContext(access_token="user-token-123", request_id="req-0001")
NO_BREAKER = ServicePolicy(backoff_base=0.0, backoff_cap=0.0, breaker_failure_threshold=1_000_000)


def test_backoff_is_full_jitter_and_capped() -> None:
    policy = ServicePolicy(backoff_base=0.05, backoff_cap=0.5)
    for retry, ceiling in [(1, 0.05), (2, 0.1), (3, 0.2), (4, 0.4), (5, 0.5), (30, 0.5)]:
        delays = [full_jitter_backoff(retry, policy) for _ in range(300)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2, "jitter spreads over the whole range"


def test_retry_budget_floor_refills_over_time() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.2, min_per_s=2, clock=clock.monotonic)
    assert [budget.try_spend() for _ in range(3)] == [True, True, False]
    clock.advance(0.5)
    assert [budget.try_spend() for _ in range(2)] == [True, False]


def test_retry_budget_earns_a_retry_per_five_calls() -> None:
    budget = RetryBudget(ratio=0.2, min_per_s=0, clock=FakeClock().monotonic)
    assert not budget.try_spend()
    for _ in range(5):
        budget.deposit()
    assert budget.try_spend()
    assert not budget.try_spend()


@pytest.mark.anyio
async def test_retry_budget_caps_extra_attempts_under_sustained_failure() -> None:
    """200 calls to an always-503 service make at most ~20% extra attempts (plus the floor)."""
    async with client_for(CatalogClient, always(503), NO_BREAKER) as (client, sent):
        started = time.monotonic()
        for _ in range(200):
            with pytest.raises(CoreUnavailable):
                await client.get_product("7", ctx=CTX)
        elapsed = time.monotonic() - started
    floor = NO_BREAKER.retry_budget_min_per_s * (1 + elapsed)
    assert 200 < sent.count <= 200 * 1.2 + floor + 1


@pytest.mark.anyio
async def test_quiet_service_can_still_retry_thanks_to_the_floor() -> None:
    async with client_for(CatalogClient, always(503), NO_BREAKER) as (client, sent):
        with pytest.raises(CoreUnavailable):
            await client.get_product("7", ctx=CTX)
    assert sent.count == 3
