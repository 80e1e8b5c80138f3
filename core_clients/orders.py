"""Orders: a user's order history (cursor paged, newest first) and placing an order.

Placing an order is a POST, so it is retried only because it carries an ``Idempotency-Key``: the
service answers a repeated key with the order it already made, never a second one. The caller
chooses the key once per checkout attempt (not per retry), or retries would be new orders.
"""

from __future__ import annotations

from collections.abc import Sequence

from core_clients.base import CallContext, CoreClient, Money, WireStruct, path_segment

__all__ = ["NewOrderLine", "Order", "OrderLine", "OrderPage", "OrdersClient"]


class OrderLine(WireStruct, frozen=True):
    product_id: str
    quantity: int
    unit_price: Money


class Order(WireStruct, frozen=True):
    id: str
    placed_at: str
    status: str
    total: Money
    lines: list[OrderLine]


class OrderPage(WireStruct, frozen=True):
    items: list[Order]
    next_cursor: str | None = None


class NewOrderLine(WireStruct, frozen=True):
    """One line of an order to place: the price is the service's to decide, not ours."""

    product_id: str
    quantity: int


class _PlaceOrder(WireStruct, frozen=True):
    sub: str
    lines: list[NewOrderLine]


class OrdersClient(CoreClient):
    service = "orders"

    async def list_orders(
        self, sub: str, *, cursor: str | None = None, limit: int = 10, ctx: CallContext
    ) -> OrderPage:
        return await self._request(
            "GET",
            f"/v1/accounts/{path_segment(sub)}/orders",
            ctx=ctx,
            params={"cursor": cursor, "limit": limit},
            idempotent=True,
            decode_as=OrderPage,
        )

    async def place_order(
        self,
        sub: str,
        lines: Sequence[NewOrderLine],
        *,
        idempotency_key: str,
        ctx: CallContext,
    ) -> Order:
        """Place an order; 400/409/422 raise ``UpstreamRejected`` with ``upstream_status``."""
        if not idempotency_key:
            raise ValueError("an order needs an idempotency key")
        return await self._request(
            "POST",
            "/v1/orders",
            ctx=ctx,
            json=_PlaceOrder(sub=sub, lines=list(lines)),
            headers={"Idempotency-Key": idempotency_key},
            idempotent=True,
            decode_as=Order,
        )
