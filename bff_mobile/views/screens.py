"""The app's screens under ``/m/v1``: the same core data as the web screens, shaped for a phone.

The opened screen (``screen``, for the bearer's ``mobile_session``) and the ``X-App-Version``
gate come from the router in ``bff_mobile.app``; how the app wants the answer (encoding, pixel
ratio, the tag it holds) is each handler's ``reply``. Degradation follows the web rules: a
failed optional part leaves its section out and is named in ``degraded`` and
``X-BFF-Degraded``; a failed required part is a problem.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from litestar import MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter, QueryParameter

from bff_mobile.schemas import (
    Card,
    Home,
    NewOrder,
    OrderDetail,
    OrderLine,
    OrdersPage,
    OrderSummary,
    Payload,
    PlacedOrder,
    ProductDetail,
)
from bff_mobile.views.common import REPLY, Reply, Shaper
from core_clients.catalog import Product
from core_clients.orders import NewOrderLine, Order
from shared.identity.policy import AUTHENTICATED, declare
from shared.platform.json_body import JSON_BODY_MAX_BYTES, read_json_body
from shared.screens.context import Screen
from shared.screens.rules import check_idempotency_key, check_product_id

CARD_WIDTH = 160  # CSS pixels: the widths the app lays images out at
THUMB_WIDTH = 64
HERO_WIDTH = 320
RECENT_ORDERS = 3
RECOMMENDED = 8
RELATED = 4
DEFAULT_CURRENCY = "EUR"  # an empty order list names no currency; nothing is priced in it


def card(product: Product, shape: Shaper) -> Card:
    amount, currency = shape.amount(product.price)
    return Card(
        id=product.id,
        title=product.title,
        price=amount,
        currency=currency,
        image=shape.image(product.images, CARD_WIDTH),
        rating=round(product.rating.average, 1),
    )


def order_summary(order: Order, products: dict[str, Product], shape: Shaper) -> OrderSummary:
    shown = [products[line.product_id] for line in order.lines if line.product_id in products]
    total, currency = shape.amount(order.total)
    return OrderSummary(
        id=order.id,
        placed_at=order.placed_at,
        status=order.status,
        total=total,
        currency=currency,
        items=sum(line.quantity for line in order.lines),
        image=shape.image(shown[0].images, THUMB_WIDTH) if shown else None,
    )


def order_detail(order: Order, products: dict[str, Product], shape: Shaper) -> OrderDetail:
    lines = []
    for line in order.lines:
        product = products.get(line.product_id)
        unit_price, line_currency = shape.amount(line.unit_price)
        lines.append(
            OrderLine(
                product_id=line.product_id,
                quantity=line.quantity,
                unit_price=unit_price,
                currency=line_currency,
                title=product.title if product else None,
                image=shape.image(product.images, THUMB_WIDTH) if product else None,
            )
        )
    total, currency = shape.amount(order.total)
    return OrderDetail(
        id=order.id,
        placed_at=order.placed_at,
        status=order.status,
        total=total,
        currency=currency,
        lines=lines,
    )


def answers(payload: type[Payload], status: int = 200) -> dict[int, ResponseSpec]:
    """The OpenAPI entry of a screen that answers through ``Reply`` (raw bytes, so Litestar
    cannot see the shape): the compact payload as JSON (MessagePack on request)."""
    return {
        status: ResponseSpec(
            data_container=payload, media_type=MediaType.JSON, description="The screen"
        )
    }


@get(
    "/home",
    opt=declare(AUTHENTICATED),
    summary="The app's home screen",
    dependencies=REPLY,
    responses=answers(Home),
)
async def home(screen: NamedDependency[Screen], reply: NamedDependency[Reply]) -> Response[bytes]:
    dpr = reply.device_pixel_ratio()
    data = await screen.home(recent_orders=RECENT_ORDERS, recommended=RECOMMENDED)

    def payload() -> Home:
        account, recent = data.account, data.recent_orders
        shape = Shaper(dpr, account.currency)
        orders = [order_summary(o, recent.products, shape) for o in recent.orders] if recent else []
        return shape.finish(
            Home(
                currency=account.currency,
                name=account.display_name,
                tier=account.tier,
                orders=orders,
                recommended=[card(p, shape) for p in data.recommendations or []],
                degraded=data.degraded,
            )
        )

    return reply.screen(data, payload, data.degraded)


@get(
    "/products/{product_id:str}",
    opt=declare(AUTHENTICATED),
    summary="A product, for the app",
    dependencies=REPLY,
    responses=answers(ProductDetail),
)
async def product(
    screen: NamedDependency[Screen], reply: NamedDependency[Reply], product_id: FromPath[str]
) -> Response[bytes]:
    check_product_id(product_id)
    dpr = reply.device_pixel_ratio()
    data = await screen.product(product_id, related=RELATED)

    def payload() -> ProductDetail:
        item, inventory = data.product, data.availability
        shape = Shaper(dpr, item.price.currency)
        hero = shape.image(item.images, HERO_WIDTH)
        return shape.finish(
            ProductDetail(
                currency=item.price.currency,
                id=item.id,
                title=item.title,
                description=item.description,
                price=item.price.amount_minor,
                images=[hero] if hero else [],
                rating=round(item.rating.average, 1),
                ratings=item.rating.count,
                in_stock=inventory.in_stock if inventory else None,
                stock=inventory.quantity if inventory else None,
                restock_date=inventory.restock_date if inventory else None,
                related=[card(p, shape) for p in data.related or []],
                degraded=data.degraded,
            )
        )

    # The cache's status of the product is not shown: it does not make a new tag.
    return reply.screen(replace(data, cache_status=""), payload, data.degraded)


@get(
    "/orders",
    opt=declare(AUTHENTICATED),
    summary="The user's orders, for the app",
    dependencies=REPLY,
    responses=answers(OrdersPage),
)
async def orders(
    screen: NamedDependency[Screen],
    reply: NamedDependency[Reply],
    cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=50)] = 10,
) -> Response[bytes]:
    dpr = reply.device_pixel_ratio()
    data = await screen.orders(cursor=cursor, limit=limit)

    def payload() -> OrdersPage:
        items, products = data.page.items, data.products or {}
        currency = items[0].total.currency if items else DEFAULT_CURRENCY
        shape = Shaper(dpr, currency)
        return shape.finish(
            OrdersPage(
                currency=currency,
                items=[order_detail(order, products, shape) for order in items],
                next_cursor=data.page.next_cursor,
                degraded=data.degraded,
            )
        )

    return reply.screen(data, payload, data.degraded)


@post(
    "/orders",
    opt=declare(AUTHENTICATED),
    request_max_body_size=JSON_BODY_MAX_BYTES,
    summary="Place an order from the app (JSON body: NewOrder)",
    dependencies=REPLY,
    responses=answers(PlacedOrder, 201),
)
async def place_order(
    screen: NamedDependency[Screen],
    reply: NamedDependency[Reply],
    request: Request[Any, Any, Any],
    idempotency_key: Annotated[
        str | None, HeaderParameter(name="Idempotency-Key", required=False)
    ] = None,
) -> Response[bytes]:
    """The body is read here, once the app's session is known (``read_json_body``)."""
    data = await read_json_body(request, NewOrder)
    key = check_idempotency_key(idempotency_key)
    dpr = reply.device_pixel_ratio()
    lines = [NewOrderLine(product_id=ln.product_id, quantity=ln.quantity) for ln in data.lines]
    placed = await screen.place_order(lines, idempotency_key=key)
    order = placed.order
    shape = Shaper(dpr, order.total.currency)
    payload = PlacedOrder(
        currency=order.total.currency, order=order_detail(order, placed.products or {}, shape)
    )
    return reply.created(shape.finish(payload), placed.degraded)


ROUTES = [home, product, orders, place_order]
