"""``GET /api/products/{product_id}``: the product (required), its availability and related
products (optional). "Related" are the user's recommendations without this product: the core
services have no related-products call, and this keeps the screen to one batch catalog call."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from bff_web.formatting import availability_label, money_label
from bff_web.schemas import Availability, ImageView, ProductView
from bff_web.security import csrf_guard
from bff_web.views.common import (
    locale_for,
    money_view,
    open_screen,
    product_card,
    screen_response,
)
from core_clients.catalog import Product
from shared.screens.context import check_product_id

RELATED = 4


@get("/api/products/{product_id:str}", guards=[csrf_guard], summary="A product's page")
async def product_page(
    request: Request[Any, Any, Any], product_id: FromPath[str]
) -> Response[ProductView]:
    check_product_id(product_id)
    screen = await open_screen(request)
    result = await screen.gather(
        [*screen.product_parts(product_id, related=RELATED), screen.account_part()]
    )
    cached = result.values["product"]
    product: Product = cached.value
    locale = locale_for(result.values.get("account"))
    inventory = result.values.get("availability")
    degraded = [name for name in result.degraded if name != "account"]
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
        availability=Availability(
            in_stock=inventory.in_stock,
            label=availability_label(
                inventory.in_stock, inventory.quantity, inventory.restock_date, locale
            ),
        )
        if inventory
        else None,
        related=[product_card(p, locale) for p in result.values.get("related", [])],
        degraded=degraded,
    )
    response = screen_response(view, degraded)
    if cached.status in ("stale", "stale_error"):
        response.headers["X-BFF-Cache"] = cached.status
    return response
