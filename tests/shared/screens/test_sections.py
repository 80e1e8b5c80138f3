"""One map from part names to public section names: complete, as documented, and the one both
gateways answer with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.testing import TestClient

import shared.screens.context as context
from bff_mobile.views.screens import ROUTES as MOBILE_ROUTES
from bff_web.views.home import home as web_home
from bff_web.views.orders import ROUTES as WEB_ORDER_ROUTES
from bff_web.views.products import product_page as web_product_page
from core_clients.orders import NewOrderLine
from shared.platform.errors import EXCEPTION_HANDLERS
from shared.platform.keys import KeyedHasher
from shared.platform.plugin import KEYS, SETTINGS
from shared.platform.settings import Gateway, load_settings
from shared.screens.gather import AnyPart, GatherResult
from shared.screens.sections import DEGRADED_HEADER, PUBLIC_NAMES, PartName, public_names
from tests.fixtures.gateways import TEST_SECRET_KEY, gateway_environ
from tests.shared.screens.fakes import FakeCore, screen_with, session_record

pytestmark = pytest.mark.anyio

DOCUMENTED = {  # docs/api-web.md and docs/api-mobile.md: what `degraded` may name
    "orders": "orders",
    "recommendations": "recommendations",
    "product": "product",
    "availability": "availability",
    "related": "related",
    "products": "products",
    "account": None,
}


def test_the_map_has_exactly_the_part_names_screens_may_use() -> None:
    assert set(PUBLIC_NAMES) == set(get_args(PartName))


def test_public_names_are_the_documented_ones_and_the_account_is_never_shown() -> None:
    assert dict(PUBLIC_NAMES) == DOCUMENTED


def test_public_names_keep_the_parts_order_and_leave_hidden_parts_out() -> None:
    assert public_names(["related", "account", "availability"]) == ["related", "availability"]
    assert public_names([]) == []


def test_a_part_without_an_entry_is_refused() -> None:
    with pytest.raises(LookupError, match="'wishlist'"):
        public_names(["wishlist"])


@pytest.fixture
def gathered_names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every part any screen hands to gather."""
    names: list[str] = []
    real = context.gather_parts

    async def recording(parts: Sequence[AnyPart], **kwargs: Any) -> GatherResult:
        names.extend(part.name for part in parts)
        return await real(parts, **kwargs)

    monkeypatch.setattr(context, "gather_parts", recording)
    return names


async def test_every_part_the_screens_define_has_an_entry(gathered_names: list[str]) -> None:
    """Every screen, with and without the account: the parts they gather are exactly the map's
    entries, none missing (a part the map does not know) and none left over."""
    screen = screen_with(FakeCore())
    for with_account in (False, True):
        await screen.home(recent_orders=3, recommended=8)
        await screen.product("7", related=4, with_account=with_account)
        await screen.orders(cursor=None, limit=10, with_account=with_account)
        await screen.place_order(
            [NewOrderLine(product_id="3", quantity=1)],
            idempotency_key="key-00001",
            with_account=with_account,
        )
    assert set(gathered_names) == set(PUBLIC_NAMES)


# --- both gateways answer with the map --------------------------------------------------------

# (web path, mobile path, method, the core call made to fail, the part it serves)
DEGRADATIONS = [
    ("/api/home", "/home", "GET", "orders_page", "orders"),
    ("/api/home", "/home", "GET", "recommended", "recommendations"),
    ("/api/products/7", "/products/7", "GET", "inventory", "availability"),
    ("/api/products/7", "/products/7", "GET", "recommended", "related"),
    ("/api/orders", "/orders", "GET", "products", "products"),
    ("/api/orders", "/orders", "POST", "products", "products"),
    ("/api/orders", "/orders", "GET", "account", "account"),  # the web's locale: hidden
]


def gateway_app(route_handlers: list[Any], core: FakeCore, gateway: Gateway) -> Litestar:
    """A gateway's own screen handlers, handed a screen over ``core`` as the app would."""
    settings = load_settings(
        gateway,
        gateway_environ(gateway, 8000, idp_url="http://idp.test", stubs_url=None, redis_url=None),
    )

    def screen() -> Any:
        return screen_with(core)

    app = Litestar(
        route_handlers=route_handlers,
        dependencies={
            "screen": Provide(screen, sync_to_thread=False),
            "mobile_session": Provide(lambda: session_record(), sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
    )
    SETTINGS.fill(app.state, settings)
    KEYS.fill(app.state, KeyedHasher(TEST_SECRET_KEY))
    return app


def degraded_answer(app: Litestar, method: str, path: str, headers: dict[str, str]) -> Any:
    with TestClient(app) as client:
        if method == "POST":
            body = {"lines": [{"productId": "3", "quantity": 1}]}
            headers = {**headers, "Idempotency-Key": "order-key-0001"}
            response = client.post(path, json=body, headers=headers)
        else:
            response = client.get(path, headers=headers)
    assert response.status_code in (200, 201), response.text
    # A placed order is no screen with sections: only the header names what is missing.
    listed = response.json().get("degraded", []) if method == "GET" else None
    return response.headers.get(DEGRADED_HEADER), listed


@pytest.mark.parametrize(("web_path", "app_path", "method", "failing", "part"), DEGRADATIONS)
def test_both_gateways_name_a_missing_section_by_the_map(
    web_path: str, app_path: str, method: str, failing: str, part: str
) -> None:
    """The same failed part is named the same on the web and in the app: its public name, or
    nothing at all for a hidden part."""
    expected = PUBLIC_NAMES[part]
    web_core, app_core = FakeCore([failing]), FakeCore([failing])
    web = gateway_app([web_home, web_product_page, *WEB_ORDER_ROUTES], web_core, "web")
    mobile = gateway_app(list(MOBILE_ROUTES), app_core, "mobile")
    web_header, web_body = degraded_answer(web, method, web_path, {"X-CSRF": "1"})
    app_header, app_body = degraded_answer(mobile, method, app_path, {})
    listed = None if method == "POST" else [expected] if expected else []
    assert failing in web_core.calls
    assert (web_header, web_body) == (expected, listed)
    assert (app_header, app_body) == (expected, listed)
