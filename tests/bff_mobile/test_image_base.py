"""``imageBase``: every image URL of a screen, however deep in it, is written once as the
common prefix and then as its suffix, and nothing that is not an image URL is touched."""

from __future__ import annotations

from bff_mobile.schemas import Card, Home, OrderDetail, OrderLine, OrdersPage, OrderSummary
from bff_mobile.views.common import Shaper
from core_clients.catalog import Image

BASE = "https://img.example/products/"


def shaper_with(*urls: str) -> tuple[Shaper, list[str]]:
    shape = Shaper(dpr=1, currency="EUR")
    return shape, [shape.image([Image(url=url, width=160, height=160)], 160) or "" for url in urls]


def test_home_cards_and_orders_lose_the_common_prefix() -> None:
    shape, (a, b, c) = shaper_with(f"{BASE}1/160.svg", f"{BASE}2/160.svg", f"{BASE}3/160.svg")
    home = Home(
        currency="EUR",
        name=f"{BASE}not-an-image",
        orders=[OrderSummary(id="o1", placed_at="t", status="s", total=1, items=1, image=a)],
        recommended=[
            Card(id="p2", title=BASE, price=1, image=b),
            Card(id="p3", title="x", price=1, image=c),
        ],
    )
    finished = shape.finish(home)
    assert isinstance(finished, Home)
    assert finished.image_base == BASE
    assert [card.image for card in finished.recommended] == ["2/160.svg", "3/160.svg"]
    assert finished.orders[0].image == "1/160.svg"
    assert finished.name == f"{BASE}not-an-image"  # only image fields change
    assert finished.recommended[0].title == BASE


def test_images_two_lists_deep_are_stripped_too() -> None:
    shape, (a, b) = shaper_with(f"{BASE}1/160.svg", f"{BASE}2/160.svg")
    lines = [
        OrderLine(product_id="1", quantity=1, unit_price=1, image=a),
        OrderLine(product_id="2", quantity=1, unit_price=1, image=b),
        OrderLine(product_id="3", quantity=1, unit_price=1),
    ]
    page = OrdersPage(
        currency="EUR",
        items=[OrderDetail(id="o1", placed_at="t", status="s", total=1, lines=lines)],
    )
    finished = shape.finish(page)
    assert isinstance(finished, OrdersPage)
    assert [line.image for line in finished.items[0].lines] == ["1/160.svg", "2/160.svg", None]


def test_one_image_keeps_its_whole_url() -> None:
    shape, (a,) = shaper_with(f"{BASE}1/160.svg")
    card_home = Home(
        currency="EUR", name="n", recommended=[Card(id="1", title="t", price=1, image=a)]
    )
    finished = shape.finish(card_home)
    assert isinstance(finished, Home)
    assert finished.image_base == ""
    assert finished.recommended[0].image == a
