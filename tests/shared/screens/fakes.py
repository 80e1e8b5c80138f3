"""Stand-ins for the data layer and the token service, for screens run without any service.

``FakeCore`` answers every ``CoreData`` call a screen makes with fixed data, unless the call is
named in ``failing`` (it raises ``CoreUnavailable``); it records which calls were made, and the
deadline each one saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import msgspec

from core_clients.accounts import Account
from core_clients.base import CallContext, Money
from core_clients.catalog import Inventory, Product
from core_clients.data import CoreData
from core_clients.orders import NewOrderLine, Order, OrderLine, OrderPage
from core_clients.recommendations import Recommendations
from shared.cache import CacheResult
from shared.identity.records import EncryptedTokens, SessionRecord, TokenSet
from shared.platform.deadline import Deadline, current_deadline
from shared.platform.errors import CoreUnavailable
from shared.screens.context import Screen
from tests.core_clients import samples

SUB = "alice"


def product(product_id: str) -> Product:
    return msgspec.convert(samples.product(product_id), Product)


def order(order_id: str, *product_ids: str) -> Order:
    price = Money(amount_minor=1999, currency="EUR")
    lines = [OrderLine(product_id=pid, quantity=1, unit_price=price) for pid in product_ids]
    total = Money(amount_minor=1999 * len(lines), currency="EUR")
    return Order(
        id=order_id, placed_at="2025-02-03T04:05:06Z", status="placed", total=total, lines=lines
    )


ACCOUNT = msgspec.convert(samples.ACCOUNT, Account)
ORDERS = [order("ord-2", "3", "4"), order("ord-1", "3")]
RECOMMENDED = ["7", "8", "9", "10", "11"]


class FakeCore:
    """``CoreData``'s screen-facing calls, answered from the constants above."""

    def __init__(self, failing: Sequence[str] = ()) -> None:
        self.failing = set(failing)
        self.calls: list[str] = []
        self.deadlines: dict[str, Deadline | None] = {}

    def _call(self, name: str) -> None:
        self.calls.append(name)
        self.deadlines[name] = current_deadline()
        if name in self.failing:
            raise CoreUnavailable(name, f"{name} is down")

    async def account(self, sub: str, ctx: CallContext) -> Account:
        self._call("account")
        return ACCOUNT

    async def orders_page(
        self, sub: str, ctx: CallContext, *, cursor: str | None, limit: int
    ) -> OrderPage:
        self._call("orders_page")
        return OrderPage(items=ORDERS[:limit], next_cursor="next" if limit < len(ORDERS) else None)

    async def products(self, ids: Sequence[str], ctx: CallContext) -> list[Product]:
        self._call("products")
        return [product(pid) for pid in dict.fromkeys(ids)]

    async def product(self, product_id: str, ctx: CallContext) -> CacheResult[Product]:
        self._call("product")
        return CacheResult(product(product_id), "stale")

    async def inventory(self, product_id: str, ctx: CallContext) -> Inventory:
        self._call("inventory")
        return Inventory(product_id=product_id, in_stock=True, quantity=3)

    async def recommended(self, sub: str, ctx: CallContext, *, limit: int) -> Recommendations:
        self._call("recommended")
        return Recommendations(product_ids=RECOMMENDED[:limit], model_version="m1")

    async def place_order(
        self, sub: str, lines: Sequence[NewOrderLine], *, idempotency_key: str, ctx: CallContext
    ) -> Order:
        self._call("place_order")
        return order("ord-new", *(line.product_id for line in lines))


class FakeTokens:
    """A token service that hands out one access token and notes what it was asked."""

    def __init__(self, access_token: str) -> None:
        self.access_token = access_token
        self.asked_for: list[SessionRecord] = []

    async def fresh_tokens(self, record: SessionRecord) -> TokenSet:
        self.asked_for.append(record)
        return TokenSet(access_token=self.access_token)


def session_record(sub: str = SUB) -> SessionRecord:
    return SessionRecord(
        id="s" * 43,
        kind="web",
        sub=sub,
        idp_sid=None,
        claims={},
        created_at=0.0,
        last_seen_at=0.0,
        idle_expires_at=1e12,
        absolute_expires_at=1e12,
        user_agent=None,
        tokens=EncryptedTokens("sealed"),
    )


def screen_with(core: FakeCore, deadline_s: float = 5.0) -> Screen:
    ctx = CallContext(access_token="access-1", request_id="req-1")
    return Screen(session_record(), ctx, Deadline.after(deadline_s), cast(CoreData, core))


def core_data() -> CoreData:
    """A ``CoreData`` with nothing behind it, for a screen that is opened and never gathers (the
    gateways' dependency injection accepts only the exact type)."""
    return object.__new__(CoreData)
