"""``GET /api/products/{product_id}``: the product (required), its availability and related
products (optional); the sections are gathered by ``Screen.product``."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from bff_web.formatting import availability_label, money_label
from bff_web.schemas import Availability, ImageView, ProductView
from bff_web.views.common import locale_for, money_view, product_card, screen_response
from core_clients.catalog import Inventory
from shared.identity.policy import AUTHENTICATED, declare
from shared.screens.context import Screen
from shared.screens.rules import check_product_id

RELATED = 4
STALE_STATUSES = ("stale", "stale_error")


@get(
    "/api/products/{product_id:str}",
    opt=declare(AUTHENTICATED),
    summary="A product's page",
)
async def product_page(
    screen: NamedDependency[Screen], product_id: FromPath[str]
) -> Response[ProductView]:
    data = await screen.product(check_product_id(product_id), related=RELATED, with_account=True)
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
