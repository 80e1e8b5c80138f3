"""What every screen of either gateway works with: the caller's session, a call context with a
fresh IdP access token, the screen's deadline, and the cached data layer; and each screen's
parts, gathered into the typed data of ``shared.screens.data``.

The gateways differ in how they find the session (cookie or bearer) and how they shape the
answer; everything between is here, once::

    open_screen_for(tokens, session, core, ...)      deadline starts; token refreshed inside it
     └── Screen.home / .product / .orders / .place_order
          └── gather_parts([...], deadline)          typed parts, one deadline
               └── HomeData / ProductData / ...      sections, or None and a public name
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from core_clients.accounts import Account
from core_clients.base import CallContext
from core_clients.catalog import Product
from core_clients.data import CoreData
from core_clients.orders import NewOrderLine, Order
from shared.identity.dpop import BoundToken
from shared.identity.records import SessionRecord, TokenSet
from shared.platform.clock import SYSTEM_CLOCK, Clock
from shared.platform.deadline import Deadline, deadline_scope
from shared.screens.data import HomeData, OrdersData, PlacedOrderData, ProductData, RecentOrders
from shared.screens.gather import AnyPart, GatherResult, OptionalPart, Part, gather_parts
from shared.screens.sections import PartName, public_names

__all__ = ["Screen", "TokenSource", "open_screen_for"]

T = TypeVar("T")


class TokenSource(Protocol):
    """What a screen needs of the identity layer: the session's tokens, refreshed if due."""

    async def fresh_tokens(self, record: SessionRecord) -> TokenSet: ...


def _required(name: PartName, call: Callable[[], Awaitable[T]]) -> Part[T]:
    """A screen's part, named by a ``PartName``: every part has an entry in the section map."""
    return Part(name, call)


def _optional(name: PartName, call: Callable[[], Awaitable[T]]) -> OptionalPart[T]:
    return OptionalPart(name, call)


@dataclass(frozen=True)
class Screen:
    """One caller's screen, opened: gathering any of the screens below calls the core services
    as this user, within this deadline."""

    session: SessionRecord
    ctx: CallContext
    deadline: Deadline
    core: CoreData

    @property
    def sub(self) -> str:
        return self.session.sub

    async def home(self, *, recent_orders: int, recommended: int) -> HomeData:
        """The account is required; recent orders and recommendations are optional."""
        account = _required("account", lambda: self.core.account(self.sub, self.ctx))
        orders = _optional("orders", lambda: self._recent_orders(recent_orders))
        recommendations = _optional("recommendations", lambda: self._recommended(recommended))
        result = await self.gather([account, orders, recommendations])
        return HomeData(
            account=result.of(account),
            recent_orders=result.of(orders),
            recommendations=result.of(recommendations),
            degraded=public_names(result.degraded),
        )

    async def product(
        self, product_id: str, *, related: int, with_account: bool = False
    ) -> ProductData:
        """The product is required; its availability and related products are optional."""
        product = _required("product", lambda: self.core.product(product_id, self.ctx))
        availability = _optional("availability", lambda: self.core.inventory(product_id, self.ctx))
        related_part = _optional("related", lambda: self._recommended(related, without=product_id))
        account = self._account_part() if with_account else None
        parts: list[AnyPart] = [product, availability, related_part]
        result = await self.gather([*parts, account] if account else parts)
        cached = result.of(product)
        return ProductData(
            product=cached.value,
            cache_status=cached.status,
            availability=result.of(availability),
            related=result.of(related_part),
            account=result.of(account) if account else None,
            degraded=public_names(result.degraded),
        )

    async def orders(
        self, *, cursor: str | None, limit: int, with_account: bool = False
    ) -> OrdersData:
        """A page of orders is required (it is what the screen shows), then the products on
        it, optional, in a second gather under the same deadline."""
        page_part = _required(
            "orders",
            lambda: self.core.orders_page(self.sub, self.ctx, cursor=cursor, limit=limit),
        )
        account = self._account_part() if with_account else None
        first = await self.gather([page_part, account] if account else [page_part])
        page = first.of(page_part)
        products, details = await self._products_of(page.items)
        return OrdersData(
            page=page,
            products=products,
            account=first.of(account) if account else None,
            degraded=public_names([*first.degraded, *details.degraded]),
        )

    async def place_order(
        self, lines: list[NewOrderLine], *, idempotency_key: str, with_account: bool = False
    ) -> PlacedOrderData:
        """Places the order (a failure is the screen's), then gathers the products on it."""
        with self.deadline_scope():
            order = await self.core.place_order(
                self.sub, lines, idempotency_key=idempotency_key, ctx=self.ctx
            )
        account = self._account_part() if with_account else None
        products, details = await self._products_of([order], account)
        return PlacedOrderData(
            order=order,
            products=products,
            account=details.of(account) if account else None,
            degraded=public_names(details.degraded),
        )

    async def gather(self, parts: Sequence[AnyPart]) -> GatherResult:
        """Run the parts concurrently under the screen's deadline, which every core call made
        inside honours and forwards."""
        with self.deadline_scope():
            return await gather_parts(parts, deadline=self.deadline)

    @contextmanager
    def deadline_scope(self) -> Iterator[None]:
        """Every core call made inside honours (and forwards) the screen's deadline."""
        with deadline_scope(self.deadline):
            yield

    def _account_part(self) -> OptionalPart[Account]:
        """Optional: screens other than home only need it for the locale."""
        return _optional("account", lambda: self.core.account(self.sub, self.ctx))

    async def _products_of(
        self, orders: list[Order], account: OptionalPart[Account] | None = None
    ) -> tuple[dict[str, Product] | None, GatherResult]:
        """The products on ``orders`` (one batch catalog call), optional, gathered with the
        account when it is asked for."""
        products = _optional("products", lambda: self._products_by_id(_product_ids_of(orders)))
        parts: list[AnyPart] = [products, account] if account else [products]
        details = await self.gather(parts)
        return details.of(products), details

    async def _products_by_id(self, ids: list[str]) -> dict[str, Product]:
        return {product.id: product for product in await self.core.products(ids, self.ctx)}

    async def _recent_orders(self, limit: int) -> RecentOrders:
        """The newest orders and their products (one batch catalog call), for a home screen."""
        page = await self.core.orders_page(self.sub, self.ctx, cursor=None, limit=limit)
        products = await self._products_by_id(_product_ids_of(page.items))
        return RecentOrders(orders=page.items, products=products)

    async def _recommended(self, limit: int, *, without: str | None = None) -> list[Product]:
        """The user's recommendations as products (one batch catalog call). ``without`` leaves
        out the product on screen: "related" products are recommendations minus this one, since
        the core services have no related-products call."""
        recommendations = await self.core.recommended(
            self.sub, self.ctx, limit=limit + (1 if without else 0)
        )
        ids = [pid for pid in recommendations.product_ids if pid != without][:limit]
        return await self.core.products(ids, self.ctx)


async def open_screen_for(
    tokens: TokenSource,
    session: SessionRecord,
    core: CoreData,
    *,
    deadline_s: float,
    request_id: str | None,
    clock: Clock = SYSTEM_CLOCK,
) -> Screen:
    """The one place a screen opens. The deadline starts first, and the token refresh runs
    inside its scope, so a slow refresh counts against the screen's time and the identity
    layer can bound its wait by ``current_deadline()``.

    The calls present the token as the IdP issued it: ``Bearer``, or ``DPoP`` with a proof
    signed by the session's key (``BoundToken``; ``clock`` stamps the proofs)."""
    deadline = Deadline.after(deadline_s)
    with deadline_scope(deadline):
        fresh = await tokens.fresh_tokens(session)
    ctx = CallContext(
        access_token=fresh.access_token,
        request_id=request_id or None,
        authorization=BoundToken.of(fresh, clock),
    )
    return Screen(session, ctx, deadline, core)


def _product_ids_of(orders: list[Order]) -> list[str]:
    return list(dict.fromkeys(line.product_id for order in orders for line in order.lines))
