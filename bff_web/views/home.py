"""``GET /api/home``: greeting (required), last three orders, recommendations (optional)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from bff_web.schemas import HomeView, UserSummary
from bff_web.security import csrf_guard
from bff_web.views.common import (
    locale_for,
    open_screen,
    order_summary,
    product_card,
    screen_response,
)

RECENT_ORDERS = 3
RECOMMENDED = 8


@get("/api/home", guards=[csrf_guard], summary="The home screen")
async def home(request: Request[Any, Any, Any]) -> Response[HomeView]:
    screen = await open_screen(request)
    result = await screen.gather(
        screen.home_parts(recent_orders=RECENT_ORDERS, recommended=RECOMMENDED)
    )
    account = result.values["account"]
    locale = locale_for(account)
    orders, order_products = result.values.get("orders", ([], {}))
    view = HomeView(
        greeting=f"Welcome back, {account.display_name}",
        user=UserSummary(
            display_name=account.display_name, avatar_url=account.avatar_url, tier=account.tier
        ),
        recent_orders=[order_summary(order, order_products, locale) for order in orders],
        recommendations=[
            product_card(product, locale) for product in result.values.get("recommendations", [])
        ],
        degraded=result.degraded,
    )
    return screen_response(view, result.degraded)
