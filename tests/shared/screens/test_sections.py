"""One map from part names to public section names: complete, and as documented."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

import pytest

import shared.screens.context as context
from core_clients.orders import NewOrderLine
from shared.screens.gather import AnyPart, GatherResult
from shared.screens.sections import PUBLIC_NAMES, PartName, public_names
from tests.shared.screens.fakes import FakeCore, screen_with

pytestmark = pytest.mark.anyio

DOCUMENTED = {  # docs/api-web.md and docs/api-mobile.md: what `degraded` may name
    "orders": "orders",
    "recommendations": "recommendations",
    "product": "product",
    "availability": "availability",
    "related": "related",
    "products": "products",
    "account": None,
}


def test_the_map_has_exactly_the_part_names_screens_may_use() -> None:
    assert set(PUBLIC_NAMES) == set(get_args(PartName))


def test_public_names_are_the_documented_ones_and_the_account_is_never_shown() -> None:
    assert dict(PUBLIC_NAMES) == DOCUMENTED


def test_public_names_keep_the_parts_order_and_leave_hidden_parts_out() -> None:
    assert public_names(["related", "account", "availability"]) == ["related", "availability"]
    assert public_names([]) == []


def test_a_part_without_an_entry_is_refused() -> None:
    with pytest.raises(LookupError, match="'wishlist'"):
        public_names(["wishlist"])


@pytest.fixture
def gathered_names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every part any screen hands to gather."""
    names: list[str] = []
    real = context.gather_parts

    async def recording(parts: Sequence[AnyPart], **kwargs: Any) -> GatherResult:
        names.extend(part.name for part in parts)
        return await real(parts, **kwargs)

    monkeypatch.setattr(context, "gather_parts", recording)
    return names


async def test_every_part_the_screens_define_has_an_entry(gathered_names: list[str]) -> None:
    """Every screen, with and without the account: the parts they gather are exactly the map's
    entries, none missing (a part the map does not know) and none left over."""
    screen = screen_with(FakeCore())
    for with_account in (False, True):
        await screen.home(recent_orders=3, recommended=8)
        await screen.product("7", related=4, with_account=with_account)
        await screen.orders(cursor=None, limit=10, with_account=with_account)
        await screen.place_order(
            [NewOrderLine(product_id="3", quantity=1)],
            idempotency_key="key-00001",
            with_account=with_account,
        )
    assert set(gathered_names) == set(PUBLIC_NAMES)
