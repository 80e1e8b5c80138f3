"""Each screen gathers its parts into typed data: sections, or ``None`` and a public name; a
required part's failure is the screen's. Opening a screen refreshes the token under its deadline."""

from __future__ import annotations

import time

import pytest

from core_clients.orders import NewOrderLine
from shared.identity.records import SessionRecord, TokenSet
from shared.platform.deadline import Deadline, current_deadline
from shared.platform.errors import CoreUnavailable
from shared.screens.context import open_screen_for
from shared.screens.data import RecentOrders
from tests.shared.screens.fakes import (
    ACCOUNT,
    ORDERS,
    RECOMMENDED,
    FakeCore,
    FakeTokens,
    core_data,
    screen_with,
    session_record,
)

pytestmark = pytest.mark.anyio


async def test_home_has_the_account_recent_orders_and_recommendations() -> None:
    core = FakeCore()
    home = await screen_with(core).home(recent_orders=1, recommended=3)
    assert home.account == ACCOUNT
    assert isinstance(home.recent_orders, RecentOrders)
    assert [order.id for order in home.recent_orders.orders] == [ORDERS[0].id]
    assert set(home.recent_orders.products) == {"3", "4"}
    assert [p.id for p in home.recommendations or []] == RECOMMENDED[:3]
    assert home.degraded == []


async def test_home_without_recommendations_still_has_its_other_sections() -> None:
    """If recommendations are down, home still answers, without recommendations."""
    home = await screen_with(FakeCore(["recommended"])).home(recent_orders=3, recommended=8)
    assert home.recommendations is None
    assert home.recent_orders is not None
    assert home.degraded == ["recommendations"]


async def test_home_without_the_account_fails() -> None:
    with pytest.raises(CoreUnavailable):
        await screen_with(FakeCore(["account"])).home(recent_orders=3, recommended=8)


async def test_a_product_with_availability_and_related_products_but_not_itself() -> None:
    core = FakeCore()
    page = await screen_with(core).product("7", related=2)
    assert page.product.id == "7"
    assert page.cache_status == "stale"
    assert page.availability is not None
    assert page.availability.product_id == "7"
    assert [p.id for p in page.related or []] == ["8", "9"]
    assert page.account is None
    assert "account" not in core.calls


async def test_the_account_is_loaded_only_when_asked_for_and_never_named_missing() -> None:
    loaded = await screen_with(FakeCore()).product("7", related=2, with_account=True)
    assert loaded.account == ACCOUNT
    missing = await screen_with(FakeCore(["account"])).product("7", related=2, with_account=True)
    assert missing.account is None
    assert missing.degraded == []


async def test_an_orders_page_has_its_products_from_one_batch_call() -> None:
    core = FakeCore()
    page = await screen_with(core).orders(cursor=None, limit=1, with_account=True)
    assert [order.id for order in page.page.items] == [ORDERS[0].id]
    assert page.page.next_cursor == "next"
    assert set(page.products or {}) == {"3", "4"}
    assert page.account == ACCOUNT
    assert core.calls.count("products") == 1


async def test_an_orders_page_without_products_names_them() -> None:
    page = await screen_with(FakeCore(["products"])).orders(cursor=None, limit=10)
    assert page.products is None
    assert len(page.page.items) == len(ORDERS)
    assert page.degraded == ["products"]


async def test_an_order_is_placed_under_the_screen_deadline() -> None:
    core = FakeCore()
    screen = screen_with(core)
    placed = await screen.place_order(
        [NewOrderLine(product_id="5", quantity=1)], idempotency_key="key-00001"
    )
    assert placed.order.id == "ord-new"
    assert set(placed.products or {}) == {"5"}
    assert core.deadlines["place_order"] == screen.deadline


async def test_a_failed_order_is_the_screens_failure() -> None:
    with pytest.raises(CoreUnavailable):
        await screen_with(FakeCore(["place_order"])).place_order(
            [NewOrderLine(product_id="5", quantity=1)], idempotency_key="key-00001"
        )


# --- opening a screen -------------------------------------------------------------------------


class DeadlineWitness(FakeTokens):
    """Notes the deadline in force, and when, while the tokens are refreshed."""

    def __init__(self) -> None:
        super().__init__("access-1")
        self.seen: list[Deadline | None] = []
        self.started_at = 0.0

    async def fresh_tokens(self, record: SessionRecord) -> TokenSet:
        self.started_at = time.monotonic()
        self.seen.append(current_deadline())
        return await super().fresh_tokens(record)


async def test_the_token_refresh_runs_under_the_screen_deadline() -> None:
    """So the identity layer can bound a slow refresh by the screen's deadline, and the refresh
    counts against the screen's time: the deadline started before it."""
    tokens = DeadlineWitness()
    screen = await open_screen_for(
        tokens, session_record(), core_data(), deadline_s=2.0, request_id="req-9"
    )
    assert tokens.seen == [screen.deadline]
    assert screen.deadline.expires_at <= tokens.started_at + 2.0
    assert current_deadline() is None  # the scope ends with the opening


async def test_an_open_screen_calls_with_the_fresh_token_and_request_id() -> None:
    session = session_record()
    tokens = FakeTokens("fresh-token")
    screen = await open_screen_for(tokens, session, core_data(), deadline_s=2.0, request_id="req-9")
    assert tokens.asked_for == [session]
    assert (screen.ctx.access_token, screen.ctx.request_id) == ("fresh-token", "req-9")
    assert screen.sub == session.sub
    unnamed = await open_screen_for(tokens, session, core_data(), deadline_s=2.0, request_id="")
    assert unnamed.ctx.request_id is None
