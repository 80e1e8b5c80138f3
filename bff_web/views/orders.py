"""``GET /api/orders`` (order history, one batch catalog call per page) and ``POST /api/orders``.

The order's body is read by the handler itself (``read_json_body``), so only once the caller's
session is known, and strictly: an anonymous or malformed request is a 4xx problem, never a 500.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, QueryParameter

from bff_web.schemas import NewOrderIn, OrdersPage, OrderView
from bff_web.views.common import locale_for, order_view, screen_response
from core_clients.orders import NewOrderLine
from shared.identity.policy import AUTHENTICATED, declare
from shared.platform.json_body import JSON_BODY_MAX_BYTES, read_json_body
from shared.screens.context import Screen
from shared.screens.rules import check_idempotency_key


@get(
    "/api/orders",
    opt=declare(AUTHENTICATED),
    summary="The user's order history",
)
async def list_orders(
    screen: NamedDependency[Screen],
    cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=50)] = 10,
) -> Response[OrdersPage]:
    data = await screen.orders(cursor=cursor, limit=limit, with_account=True)
    locale = locale_for(data.account)
    products = data.products or {}
    view = OrdersPage(
        items=[order_view(order, products, locale) for order in data.page.items],
        next_cursor=data.page.next_cursor,
        degraded=data.degraded,
    )
    return screen_response(view, data.degraded)


@post(
    "/api/orders",
    opt=declare(AUTHENTICATED),
    request_max_body_size=JSON_BODY_MAX_BYTES,
    summary="Place an order (JSON body: NewOrderIn)",
)
async def place_order(
    screen: NamedDependency[Screen],
    request: Request[Any, Any, Any],
    idempotency_key: Annotated[
        str | None, HeaderParameter(name="Idempotency-Key", required=False)
    ] = None,
) -> Response[OrderView]:
    data = await read_json_body(request, NewOrderIn)
    key = check_idempotency_key(idempotency_key)
    lines = [
        NewOrderLine(product_id=line.product_id, quantity=line.quantity) for line in data.lines
    ]
    placed = await screen.place_order(lines, idempotency_key=key, with_account=True)
    view = order_view(placed.order, placed.products or {}, locale_for(placed.account))
    return screen_response(view, placed.degraded, status_code=201)


ROUTES = [list_orders, place_order]
