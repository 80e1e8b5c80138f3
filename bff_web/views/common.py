"""What every web screen does first: who is calling, with which token, until when.

``open_screen`` loads the cookie session (401 problem without one), gets a fresh IdP access token
for it (refreshed once, however many requests race), and sets the screen's deadline, which every
core call under it honours and forwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response

from bff_web.auth import current_session
from bff_web.formatting import babel_locale, date_label, money_label, status_label
from bff_web.schemas import MoneyView, OrderLineView, OrderSummary, OrderView, ProductCard
from core_clients.accounts import Account
from core_clients.base import CallContext, Money
from core_clients.catalog import Image, Product
from core_clients.data import CoreData
from core_clients.orders import Order
from shared.deadline import Deadline, deadline_scope
from shared.gather import Part
from shared.identity import Identity
from shared.sessions import SessionRecord

DEGRADED_HEADER = "X-BFF-Degraded"
CARD_IMAGE_WIDTH = 320
THUMBNAIL_WIDTH = 160


@dataclass(frozen=True)
class Screen:
    session: SessionRecord
    ctx: CallContext
    deadline: Deadline
    core: CoreData

    @property
    def sub(self) -> str:
        return self.session.sub

    def account_part(self) -> Part:
        """The user's account, optional: screens other than home only need it for the locale."""
        return Part("account", lambda: self.core.account(self.sub, self.ctx), required=False)

    def products_part(self, ids: list[str]) -> Part:
        return Part("products", lambda: self.core.products(ids, self.ctx), required=False)


async def open_screen(request: Request[Any, Any, Any]) -> Screen:
    identity: Identity = request.app.state.identity
    deadline = Deadline.after(identity.settings.screen_deadline_s)
    session = await current_session(request)
    tokens = await identity.tokens.fresh_tokens(session)
    ctx = CallContext(
        access_token=tokens.access_token, request_id=request.scope["state"].get("request_id")
    )
    return Screen(session, ctx, deadline, request.app.state.core)


@contextmanager
def screen_deadline(screen: Screen) -> Iterator[None]:
    with deadline_scope(screen.deadline):
        yield


def screen_response(view: Any, degraded: list[str], status_code: int = 200) -> Response[Any]:
    headers = {DEGRADED_HEADER: ",".join(degraded)} if degraded else {}
    return Response(view, status_code=status_code, headers=headers)


def locale_for(account: Account | None) -> str:
    return babel_locale(account.locale if account else None)


def money_view(money: Money) -> MoneyView:
    return MoneyView(amount_minor=money.amount_minor, currency=money.currency)


def image_near(images: list[Image], width: int) -> str | None:
    """The smallest image at least ``width`` wide (or the largest there is)."""
    if not images:
        return None
    wide_enough = [image for image in images if image.width >= width]
    chosen = (
        min(wide_enough, key=lambda i: i.width)
        if wide_enough
        else max(images, key=lambda i: i.width)
    )
    return chosen.url


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
        id=order.id,
        placed_at=order.placed_at,
        placed_at_label=date_label(order.placed_at, locale),
        status=order.status,
        status_label=status_label(order.status),
        total=money_view(order.total),
        total_label=money_label(order.total, locale),
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
    return OrderView(
        id=order.id,
        placed_at=order.placed_at,
        placed_at_label=date_label(order.placed_at, locale),
        status=order.status,
        status_label=status_label(order.status),
        total=money_view(order.total),
        total_label=money_label(order.total, locale),
        lines=lines,
    )


def product_ids_of(orders: list[Order]) -> list[str]:
    return list(dict.fromkeys(line.product_id for order in orders for line in order.lines))
