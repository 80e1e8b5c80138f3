"""``GET /api/products/{product_id}``: the product (required), its availability and related
products (optional); the sections are gathered by ``Screen.product``."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from bff_web.formatting import availability_label, money_label
from bff_web.schemas import Availability, ImageView, ProductView
from bff_web.security import csrf_guard
from bff_web.views.common import locale_for, money_view, open_screen, product_card, screen_response
from core_clients.catalog import Inventory
from shared.screens.rules import check_product_id

RELATED = 4
STALE_STATUSES = ("stale", "stale_error")


@get("/api/products/{product_id:str}", guards=[csrf_guard], summary="A product's page")
async def product_page(
    request: Request[Any, Any, Any], product_id: FromPath[str]
) -> Response[ProductView]:
    check_product_id(product_id)
    screen = await open_screen(request)
    data = await screen.product(product_id, related=RELATED, with_account=True)
    product = data.product
    locale = locale_for(data.account)
    view = ProductView(
        id=product.id,
        title=product.title,
        description=product.description,
        price=money_view(product.price),
        price_label=money_label(product.price, locale),
        images=[ImageView(url=i.url, width=i.width, height=i.height) for i in product.images],
        category=product.category,
        rating=product.rating.average,
        rating_count=product.rating.count,
        attributes=product.attributes,
        availability=availability(data.availability, locale),
        related=[product_card(p, locale) for p in data.related or []],
        degraded=data.degraded,
    )
    response = screen_response(view, data.degraded)
    if data.cache_status in STALE_STATUSES:
        response.headers["X-BFF-Cache"] = data.cache_status
    return response


def availability(inventory: Inventory | None, locale: str) -> Availability | None:
    if inventory is None:
        return None
    label = availability_label(
        inventory.in_stock, inventory.quantity, inventory.restock_date, locale
    )
    return Availability(in_stock=inventory.in_stock, label=label)
