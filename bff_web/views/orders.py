"""``GET /api/orders`` (order history, one batch catalog call per page) and ``POST /api/orders``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import HeaderParameter, JSONBody, QueryParameter

from bff_web.schemas import NewOrderIn, OrdersPage, OrderView
from bff_web.security import csrf_guard
from bff_web.views.common import (
    locale_for,
    open_screen,
    order_view,
    screen_response,
)
from core_clients.orders import NewOrderLine, OrderPage
from shared.screens.context import check_idempotency_key, product_ids_of, visible_degraded


@get("/api/orders", guards=[csrf_guard], summary="The user's order history")
async def list_orders(
    request: Request[Any, Any, Any],
    cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=50)] = 10,
) -> Response[OrdersPage]:
    screen = await open_screen(request)
    first = await screen.gather([screen.orders_part(cursor, limit), screen.account_part()])
    page: OrderPage = first.values["orders"]
    details = await screen.gather([screen.products_part(product_ids_of(page.items))])
    products = {p.id: p for p in details.values.get("products", [])}
    locale = locale_for(first.values.get("account"))
    degraded = visible_degraded(first.degraded, details.degraded)
    view = OrdersPage(
        items=[order_view(order, products, locale) for order in page.items],
        next_cursor=page.next_cursor,
        degraded=degraded,
    )
    return screen_response(view, degraded)


@post("/api/orders", guards=[csrf_guard], summary="Place an order")
async def place_order(
    request: Request[Any, Any, Any],
    data: JSONBody[NewOrderIn],
    idempotency_key: Annotated[
        str | None, HeaderParameter(name="Idempotency-Key", required=False)
    ] = None,
) -> Response[OrderView]:
    key = check_idempotency_key(idempotency_key)
    screen = await open_screen(request)
    lines = [
        NewOrderLine(product_id=line.product_id, quantity=line.quantity) for line in data.lines
    ]
    with screen.deadline_scope():
        order = await screen.core.place_order(
            screen.sub, lines, idempotency_key=key, ctx=screen.ctx
        )
    details = await screen.gather(
        [screen.products_part(product_ids_of([order])), screen.account_part()]
    )
    products = {p.id: p for p in details.values.get("products", [])}
    view = order_view(order, products, locale_for(details.values.get("account")))
    return screen_response(view, visible_degraded(details.degraded), status_code=201)


ROUTES = [list_orders, place_order]
