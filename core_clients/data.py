"""Cached access to the core services, the one data layer both gateways' screens read through.

Shared data (products, inventory) lives under global cache keys; everything about a user lives
under keys built with ``Cache.user_key`` (a keyed hash of the user's ``sub``), so a cached
answer can only ever reach the user it was loaded for. Writes invalidate what they change:
placing an order drops the user's order pages and home entries on every instance.

| data | key | fresh | served stale | not-found remembered |
| --- | --- | --- | --- | --- |
| product | shared `product/<id>` | 60 s* | 10 min* | 30 s |
| product batch | shared `products/<ids>` | 60 s* | 10 min* | |
| inventory | shared `inventory/<id>` | 5 s | 60 s | 30 s |
| account | user `account` | 60 s | 10 min | |
| order page | user `orders/<cursor>/<limit>` | 30 s | 5 min | |
| recommendations | user `reco/<limit>` | 5 min | 30 min | |

(*) ``BFF_CACHE_PRODUCT_TTL`` and ``BFF_CACHE_PRODUCT_STALE``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from core_clients.accounts import Account, AccountsClient
from core_clients.base import CallContext, UpstreamRejected
from core_clients.catalog import CatalogClient, Inventory, Product
from core_clients.orders import NewOrderLine, Order, OrderPage, OrdersClient
from core_clients.recommendations import Recommendations, RecommendationsClient
from shared.cache import Cache, CacheKey, CacheResult
from shared.platform.errors import BadRequest, Conflict, CoreNotFound, Unprocessable
from shared.platform.keys import KeyedHasher

T = TypeVar("T")


@dataclass(frozen=True)
class CorePolicy:
    ttl: float
    stale_ttl: float
    negative_ttl: float | None = None


PRODUCT = CorePolicy(ttl=60, stale_ttl=600, negative_ttl=30)
INVENTORY = CorePolicy(ttl=5, stale_ttl=60, negative_ttl=30)
ACCOUNT = CorePolicy(ttl=60, stale_ttl=600)
ORDERS = CorePolicy(ttl=30, stale_ttl=300)
RECOMMENDATIONS = CorePolicy(ttl=300, stale_ttl=1800)


@dataclass(frozen=True)
class CoreData:
    accounts: AccountsClient
    catalog: CatalogClient
    orders: OrdersClient
    recommendations: RecommendationsClient
    cache: Cache
    keys: KeyedHasher
    product_policy: CorePolicy = PRODUCT

    async def _cached(
        self,
        key: CacheKey,
        loader: Callable[[], Awaitable[T]],
        policy: CorePolicy,
        type_: type[T],
    ) -> CacheResult[T]:
        return await self.cache.get_or_load(
            key,
            loader,
            ttl=policy.ttl,
            stale_ttl=policy.stale_ttl,
            type=type_,
            negative_ttl=policy.negative_ttl,
            negative_exceptions=(CoreNotFound,) if policy.negative_ttl else (),
        )

    async def product(self, product_id: str, ctx: CallContext) -> CacheResult[Product]:
        return await self._cached(
            CacheKey.shared("product", product_id),
            lambda: self.catalog.get_product(product_id, ctx=ctx),
            self.product_policy,
            Product,
        )

    async def products(self, ids: Sequence[str], ctx: CallContext) -> list[Product]:
        """Many products in one batch call (cached as a batch); unknown ids are left out."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return []
        result = await self._cached(
            CacheKey.shared("products", *unique),
            lambda: self.catalog.get_products(unique, ctx=ctx),
            self.product_policy,
            list[Product],
        )
        return result.value

    async def inventory(self, product_id: str, ctx: CallContext) -> Inventory:
        result = await self._cached(
            CacheKey.shared("inventory", product_id),
            lambda: self.catalog.get_inventory(product_id, ctx=ctx),
            INVENTORY,
            Inventory,
        )
        return result.value

    async def account(self, sub: str, ctx: CallContext) -> Account:
        result = await self._cached(
            self.cache.user_key(sub, "account"),
            lambda: self.accounts.get_account(sub, ctx=ctx),
            ACCOUNT,
            Account,
        )
        return result.value

    async def orders_page(
        self, sub: str, ctx: CallContext, *, cursor: str | None, limit: int
    ) -> OrderPage:
        try:
            result = await self._cached(
                self.cache.user_key(sub, "orders", cursor or "-", limit),
                lambda: self.orders.list_orders(sub, cursor=cursor, limit=limit, ctx=ctx),
                ORDERS,
                OrderPage,
            )
        except UpstreamRejected as exc:
            # The cursor is the caller's (the limit is checked before any call): a 400 about
            # it is the caller's 400, not a failing service. Like every 4xx, the breaker does
            # not count it.
            if cursor is not None and exc.upstream_status == 400:
                raise BadRequest("The cursor is not one this service issued") from exc
            raise
        return result.value

    async def recommended(self, sub: str, ctx: CallContext, *, limit: int) -> Recommendations:
        result = await self._cached(
            self.cache.user_key(sub, "reco", limit),
            lambda: self.recommendations.get_recommendations(sub, limit=limit, ctx=ctx),
            RECOMMENDATIONS,
            Recommendations,
        )
        return result.value

    def core_idempotency_key(self, sub: str, client_key: str) -> str:
        """The key the orders service sees: the client's key bound to the user (a keyed hash).

        A client's key is only unique for that client. Sent as is, Bob reusing a key Alice
        chose would get a 409 (and learn it exists), and a service keyed by the key alone
        would hand him her order. Bound to the user, his key is a different key. (After a
        ``BFF_SECRET_KEY`` rotation a retry of an order placed before it is a new key.)
        """
        return self.keys.hex("idempotency-key", sub, client_key)

    async def place_order(
        self, sub: str, lines: Sequence[NewOrderLine], *, idempotency_key: str, ctx: CallContext
    ) -> Order:
        try:
            return await self.orders.place_order(
                sub, lines, idempotency_key=self.core_idempotency_key(sub, idempotency_key), ctx=ctx
            )
        except UpstreamRejected as exc:
            # The user's own input was refused (unknown product, key reused for another
            # order): say so with the matching status, never with the service's body.
            if exc.upstream_status == 409:
                raise Conflict("This Idempotency-Key was used for another order") from exc
            if exc.upstream_status in (400, 422):
                raise Unprocessable(
                    "The order was refused: check the products and quantities"
                ) from exc
            raise
        finally:
            # Even a failed call may have placed the order: never serve the old history.
            await self.cache.invalidate_user_kinds(sub, "orders", "home")
