"""The shaping helpers the web screens share: display-ready cards, orders and money.

The screen itself (session, token, deadline, the gathered sections) is the ``screen``
dependency of ``shared.screens``, shared with the mobile gateway.
"""

from __future__ import annotations

from typing import Any, TypeVar

from litestar import Response

from bff_web.formatting import babel_locale, date_label, money_label, status_label
from bff_web.schemas import MoneyView, OrderLineView, OrderSummary, OrderView, ProductCard
from core_clients.accounts import Account
from core_clients.base import Money
from core_clients.catalog import Product
from core_clients.orders import Order
from shared.screens.images import image_near
from shared.screens.sections import DEGRADED_HEADER

CARD_IMAGE_WIDTH = 320
THUMBNAIL_WIDTH = 160

ViewT = TypeVar("ViewT")


def screen_response(view: ViewT, degraded: list[str], status_code: int = 200) -> Response[ViewT]:
    """The view, with the missing sections named in ``X-BFF-Degraded`` too."""
    headers = {DEGRADED_HEADER: ",".join(degraded)} if degraded else {}
    return Response(view, status_code=status_code, headers=headers)


def locale_for(account: Account | None) -> str:
    return babel_locale(account.locale if account else None)


def money_view(money: Money) -> MoneyView:
    return MoneyView(amount_minor=money.amount_minor, currency=money.currency)


def product_card(product: Product, locale: str) -> ProductCard:
    return ProductCard(
        id=product.id,
        title=product.title,
        price=money_view(product.price),
        price_label=money_label(product.price, locale),
        image_url=image_near(product.images, CARD_IMAGE_WIDTH),
        rating=product.rating.average,
        rating_count=product.rating.count,
    )


def order_summary(order: Order, products: dict[str, Product], locale: str) -> OrderSummary:
    thumbnails = [
        url
        for line in order.lines
        if line.product_id in products
        and (url := image_near(products[line.product_id].images, THUMBNAIL_WIDTH))
    ]
    return OrderSummary(
        **_order_header(order, locale),
        item_count=sum(line.quantity for line in order.lines),
        thumbnails=thumbnails,
    )


def order_view(order: Order, products: dict[str, Product], locale: str) -> OrderView:
    lines = []
    for line in order.lines:
        product = products.get(line.product_id)
        line_total = Money(
            amount_minor=line.unit_price.amount_minor * line.quantity,
            currency=line.unit_price.currency,
        )
        lines.append(
            OrderLineView(
                product_id=line.product_id,
                title=product.title if product else None,
                image_url=image_near(product.images, THUMBNAIL_WIDTH) if product else None,
                quantity=line.quantity,
                unit_price=money_view(line.unit_price),
                unit_price_label=money_label(line.unit_price, locale),
                line_total_label=money_label(line_total, locale),
            )
        )
    return OrderView(**_order_header(order, locale), lines=lines)


def _order_header(order: Order, locale: str) -> dict[str, Any]:
    """What an order's summary and its full view both show at the top."""
    return {
        "id": order.id,
        "placed_at": order.placed_at,
        "placed_at_label": date_label(order.placed_at, locale),
        "status": order.status,
        "status_label": status_label(order.status),
        "total": money_view(order.total),
        "total_label": money_label(order.total, locale),
    }
