"""``GET /api/home``: greeting (required), last three orders, recommendations (optional)."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from bff_web.schemas import HomeView, UserSummary
from bff_web.views.common import locale_for, order_summary, product_card, screen_response
from shared.identity.policy import AUTHENTICATED, declare
from shared.screens.context import Screen

RECENT_ORDERS = 3
RECOMMENDED = 8


@get("/api/home", opt=declare(AUTHENTICATED), summary="The home screen")
async def home(screen: NamedDependency[Screen]) -> Response[HomeView]:
    data = await screen.home(recent_orders=RECENT_ORDERS, recommended=RECOMMENDED)
    account = data.account
    locale = locale_for(account)
    recent = data.recent_orders
    view = HomeView(
        greeting=f"Welcome back, {account.display_name}",
        user=UserSummary(
            display_name=account.display_name, avatar_url=account.avatar_url, tier=account.tier
        ),
        recent_orders=[order_summary(order, recent.products, locale) for order in recent.orders]
        if recent
        else [],
        recommendations=[product_card(product, locale) for product in data.recommendations or []],
        degraded=data.degraded,
    )
    return screen_response(view, data.degraded)
