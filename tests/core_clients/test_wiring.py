"""The lifespan resource builds clients and cache from the gateway's settings, keys and clock."""

from __future__ import annotations

import pytest

from core_clients.policy import ServicePolicy
from core_clients.wiring import CORE, core_data_resource
from shared.cache import Cache
from shared.platform.keys import KeyedHasher
from shared.platform.plugin import build_gateway_app
from shared.platform.settings import load_settings
from tests.fixtures.clock import FakeClock

pytestmark = pytest.mark.anyio


async def test_core_data_follows_the_gateways_settings_keys_and_clock() -> None:
    settings = load_settings("web", {"BFF_CORE_ORDERS_MAX_ATTEMPTS": "1"})
    clock = FakeClock()
    app = build_gateway_app(
        settings, route_handlers=[], resources=[core_data_resource], clock=clock
    )

    async with app.lifespan():
        core = CORE.get(app.state)
        for client in (core.accounts, core.catalog, core.orders, core.recommendations):
            service = settings.core_service(client.service)
            assert client.policy == ServicePolicy.from_settings(service)
            assert str(client.http.base_url).rstrip("/") == service.url
        assert core.orders.policy.max_attempts == 1

        # Users are named by the gateway's keyed hasher, as every instance names them.
        same_secret = Cache(None, hasher=KeyedHasher(settings.secret_key))
        assert core.cache.user_key("alice", "orders") == same_secret.user_key("alice", "orders")

        # Breakers and cache tell time by the gateway's clock.
        for _ in range(core.catalog.policy.breaker_failure_threshold):
            permit = core.catalog.breaker.acquire()
            assert permit is not None
            core.catalog.breaker.record_failure(permit)
        assert core.catalog.breaker.state == "open"
        clock.advance(core.catalog.policy.breaker_open_s)
        assert core.catalog.breaker.state == "half_open"

        async def load() -> str:
            return "v1"

        key = core.cache.user_key("alice", "orders")
        await core.cache.get_or_load(key, load, ttl=10, stale_ttl=60, type=str)
        clock.advance(10)
        stale = await core.cache.get_or_load(key, load, ttl=10, stale_ttl=60, type=str)
        assert stale.status == "stale"
