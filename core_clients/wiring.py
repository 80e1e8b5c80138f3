"""The lifespan resource that opens the core-service clients and the cache for a gateway.

One long-lived ``CoreHttpClient`` (an ``httpx.AsyncClient``) per service, each with the policy
its settings describe; all of them closed when the gateway stops. The result fills the
``CORE`` state slot (a ``CoreData``), which handlers receive as the ``core`` dependency.
Each breaker reports its state and transitions to the metrics (``bff.breaker.*``).
Every ``https://`` service is verified against ``BFF_CORE_CA_FILE`` (or the system store), and
shown the client certificate of ``BFF_CORE_CLIENT_CERT_FILE`` when one is configured.
The cache names users by the gateway's keyed hasher (``KEYS``); the cache and the breakers
tell time by the gateway's clock (``CLOCK``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypeVar

from litestar import Litestar

from core_clients.accounts import AccountsClient
from core_clients.base import CoreClient
from core_clients.catalog import CatalogClient
from core_clients.data import PRODUCT, CoreData, CorePolicy
from core_clients.orders import OrdersClient
from core_clients.policy import ServicePolicy
from core_clients.recommendations import RecommendationsClient
from core_clients.transport import build_http_client
from shared.cache import Cache
from shared.platform.metrics import record_breaker_state, record_breaker_transition
from shared.platform.plugin import CLOCK, KEYS, SETTINGS, redis_client
from shared.platform.state import StateSlot

CORE = StateSlot("core", CoreData)

C = TypeVar("C", bound=CoreClient)


@asynccontextmanager
async def core_data_resource(app: Litestar) -> AsyncIterator[None]:
    settings = SETTINGS.get(app.state)
    clock = CLOCK.get(app.state)
    tls = settings.core_tls.client_context()  # one context: one trust for every core service
    async with AsyncExitStack() as stack:

        def open_client(client_class: type[C]) -> C:
            service = settings.core_service(client_class.service)
            policy = ServicePolicy.from_settings(service)
            http = build_http_client(service.url, policy, tls=tls)
            stack.push_async_callback(http.aclose)
            client = client_class(
                http, policy, on_breaker_transition=record_breaker_transition, clock=clock
            )
            record_breaker_state(client.service, client.breaker.state.value)
            return client

        keys = KEYS.get(app.state)
        cache = Cache(redis_client(app.state), hasher=keys, clock=clock, name="core")
        stack.push_async_callback(cache.aclose)
        core = CoreData(
            accounts=open_client(AccountsClient),
            catalog=open_client(CatalogClient),
            orders=open_client(OrdersClient),
            recommendations=open_client(RecommendationsClient),
            cache=cache,
            keys=keys,
            product_policy=CorePolicy(
                ttl=settings.cache_product_ttl_s,
                stale_ttl=settings.cache_product_stale_s,
                negative_ttl=PRODUCT.negative_ttl,
            ),
        )
        CORE.fill(app.state, core)
        yield
