"""What each screen's gather gives back, typed, for both gateways to shape.

A section that could not be loaded is ``None`` (never an empty stand-in a view could mistake for
"nothing there") and its public name is in ``degraded`` (``shared.screens.sections``). A screen
whose required part failed has no data at all: its gather raised the part's error.

``account`` on the product and order screens is there only when the gateway asked for it
(``with_account=True``: the web gateway, for the locale) and it loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from core_clients.accounts import Account
from core_clients.catalog import Inventory, Product
from core_clients.orders import Order, OrderPage

__all__ = ["HomeData", "OrdersData", "PlacedOrderData", "ProductData", "RecentOrders"]


@dataclass(frozen=True, slots=True)
class RecentOrders:
    """The newest orders and, by id, the products on them (one batch catalog call)."""

    orders: list[Order]
    products: dict[str, Product]


@dataclass(frozen=True, slots=True)
class HomeData:
    account: Account
    recent_orders: RecentOrders | None
    recommendations: list[Product] | None
    degraded: list[str]


@dataclass(frozen=True, slots=True)
class ProductData:
    product: Product
    cache_status: str
    """How the product was served from the cache: ``hit``, ``miss``, ``stale``, ``stale_error``."""
    availability: Inventory | None
    related: list[Product] | None
    """The user's recommendations without this product: the core services have no
    related-products call, and this keeps the screen to one batch catalog call."""
    account: Account | None
    degraded: list[str]


@dataclass(frozen=True, slots=True)
class OrdersData:
    page: OrderPage
    products: dict[str, Product] | None
    """The products on the page's orders, by id (one batch catalog call)."""
    account: Account | None
    degraded: list[str]


@dataclass(frozen=True, slots=True)
class PlacedOrderData:
    order: Order
    products: dict[str, Product] | None
    account: Account | None
    degraded: list[str]
