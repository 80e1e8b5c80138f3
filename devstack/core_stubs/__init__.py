"""Stand-in core services: accounts, catalog, orders and recommendations behind one Litestar app.

The gateways are only as well tested as the services they are tested against, so these stubs
follow ``CORE_SERVICES.md`` to the letter (seeded data, cursor pagination, idempotent order
placement, bearer check) and add what the real services cannot give a test: faults on demand
(``/_chaos``) and call counters (``/_stats``, ``/_echo``) that show how many calls a cache or
single-flight really let through.

Each service lives under its own prefix (``/catalog/v1/products/7``), so one port serves all four
and a gateway is pointed at them with four base URLs, exactly as in production. Counting, chaos and
the bearer check live in one middleware on the service routers; handlers only build answers.

One module per job::

    models       wire models of the services and of the control routes
    seed         the seeded catalog, profiles and order histories (same seed, same bytes)
    state        what one app remembers (StubState) and how handlers reach it
    services     the four services' routes
    faults       the chaos modes, answered at the ASGI level
    middleware   count, inject chaos, check the token: in front of every service route
    dpop         the DPoP check of bound tokens (proof, replay, nonce)
    control      /health, /_chaos and /_stats
    images       product images and avatars, drawn as SVG, served to browsers without a token
    echo         /echo/...: an upstream for the gateways' remote APIs, answering what it got
    app          the app factory, create_stubs_app
"""

from devstack.core_stubs.app import create_stubs_app
from devstack.core_stubs.models import ChaosSpec, Product
from devstack.core_stubs.services import SERVICES

__all__ = ["SERVICES", "ChaosSpec", "Product", "create_stubs_app"]
