"""What every screen of either gateway works with: the caller's session, a call context with a
fresh IdP access token, the screen's deadline, and the cached data layer.

The gateways differ in how they find the session (cookie or bearer) and how they shape the
answer; everything between is here, once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from core_clients.base import CallContext
from core_clients.catalog import Image, Product
from core_clients.data import CoreData
from core_clients.orders import Order
from shared.identity.records import SessionRecord
from shared.identity.wiring import Identity
from shared.platform.deadline import Deadline, deadline_scope
from shared.screens.gather import GatherResult, Part, gather_parts
from shared.screens.rules import check_idempotency_key, check_product_id

__all__ = ["DEGRADED_HEADER", "Screen", "check_idempotency_key", "check_product_id"]

DEGRADED_HEADER = "X-BFF-Degraded"


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

    def orders_part(self, cursor: str | None, limit: int) -> Part:
        """A page of the user's orders, required: it is what an orders screen shows."""
        return Part(
            "orders",
            lambda: self.core.orders_page(self.sub, self.ctx, cursor=cursor, limit=limit),
        )

    def products_part(self, ids: list[str]) -> Part:
        return Part("products", lambda: self.core.products(ids, self.ctx), required=False)

    async def recent_orders(self, limit: int) -> tuple[list[Order], dict[str, Product]]:
        """The newest orders and their products (one batch catalog call), for a home screen."""
        page = await self.core.orders_page(self.sub, self.ctx, cursor=None, limit=limit)
        products = await self.core.products(product_ids_of(page.items), self.ctx)
        return page.items, {product.id: product for product in products}

    async def recommended_products(
        self, limit: int, *, without: str | None = None
    ) -> list[Product]:
        """The user's recommendations as products (one batch catalog call). ``without`` leaves
        out the product on screen: "related" products are recommendations minus this one, since
        the core services have no related-products call."""
        recommendations = await self.core.recommended(
            self.sub, self.ctx, limit=limit + (1 if without else 0)
        )
        ids = [pid for pid in recommendations.product_ids if pid != without][:limit]
        return await self.core.products(ids, self.ctx)

    def home_parts(self, *, recent_orders: int, recommended: int) -> list[Part]:
        """A home screen: the account is required, orders and recommendations are optional."""
        return [
            Part("account", lambda: self.core.account(self.sub, self.ctx)),
            Part("orders", lambda: self.recent_orders(recent_orders), required=False),
            Part(
                "recommendations",
                lambda: self.recommended_products(recommended),
                required=False,
            ),
        ]

    def product_parts(self, product_id: str, *, related: int) -> list[Part]:
        """A product screen: the product is required, availability and related are optional."""
        return [
            Part("product", lambda: self.core.product(product_id, self.ctx)),
            Part(
                "availability",
                lambda: self.core.inventory(product_id, self.ctx),
                required=False,
            ),
            Part(
                "related",
                lambda: self.recommended_products(related, without=product_id),
                required=False,
            ),
        ]

    async def gather(self, parts: Sequence[Part]) -> GatherResult:
        """Run the parts concurrently under the screen's deadline, which every core call made
        inside honours and forwards."""
        with self.deadline_scope():
            return await gather_parts(parts, deadline=self.deadline)

    @contextmanager
    def deadline_scope(self) -> Iterator[None]:
        """Every core call made inside honours (and forwards) the screen's deadline."""
        with deadline_scope(self.deadline):
            yield


async def open_screen_for(
    identity: Identity, session: SessionRecord, core: CoreData, request_id: str | None
) -> Screen:
    """The deadline starts first, so the token refresh counts against the screen's time."""
    deadline = Deadline.after(identity.settings.screen_deadline_s)
    tokens = await identity.tokens.fresh_tokens(session)
    ctx = CallContext(access_token=tokens.access_token, request_id=request_id)
    return Screen(session, ctx, deadline, core)


def image_near(images: list[Image], width: int) -> str | None:
    """The smallest image at least ``width`` pixels wide (or the largest there is)."""
    if not images:
        return None
    wide_enough = [image for image in images if image.width >= width]
    if wide_enough:
        return min(wide_enough, key=lambda image: image.width).url
    return max(images, key=lambda image: image.width).url


def product_ids_of(orders: list[Order]) -> list[str]:
    return list(dict.fromkeys(line.product_id for order in orders for line in order.lines))


def visible_degraded(*groups: list[str]) -> list[str]:
    """What the user sees as missing; the account only changes the locale, so it is not named."""
    return [name for group in groups for name in group if name != "account"]
