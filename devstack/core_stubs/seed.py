"""Seeded data: the catalog, profiles, stock levels and order histories.

Everything is derived from the seed and the entity's id alone, so the same seed gives the same
bytes in any process, on any day, whatever order the data is asked for in.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

from devstack.core_stubs.models import (
    Account,
    Image,
    Inventory,
    Money,
    Order,
    OrderLine,
    Product,
    Rating,
)
from devstack.dev_users import dev_user

PRODUCT_COUNT = 500
IMAGE_WIDTHS = (160, 320, 480, 960)
# Seeded histories end here rather than at "now" so the same seed gives the same bytes on any day;
# orders placed through the API are stamped with the real time and so always sort first.
SEEDED_HISTORY_END = datetime(2025, 1, 1, tzinfo=UTC)

_CATEGORIES: dict[str, tuple[tuple[str, ...], int, int]] = {
    # category: (nouns, lowest price, highest price) in minor units
    "kitchen": (("Mug", "Teapot", "Skillet", "Cutting Board", "Chef's Knife"), 899, 14999),
    "outdoor": (("Tent", "Backpack", "Water Bottle", "Headlamp", "Camp Chair"), 1499, 39999),
    "fashion": (("Scarf", "Sneakers", "Rain Jacket", "Beanie", "Tote Bag"), 1299, 24999),
    "home": (("Lamp", "Throw Blanket", "Vase", "Cushion", "Wall Clock"), 999, 19999),
    "electronics": (("Headphones", "Speaker", "Charger", "Keyboard", "Webcam"), 1999, 49999),
}
_ADJECTIVES = ("Alpine", "Coastal", "Ember", "Harbour", "Juniper", "Linen", "Maple", "Nordic")
_COLOURS = ("black", "white", "sand", "forest green", "navy", "terracotta")
_BRANDS = ("Northwind", "Fjell", "Casa Lumo", "Tidewater", "Kettle & Co")
_LOCALES = ("en-GB", "de-DE", "fr-FR")
_TIERS = ("standard", "standard", "silver", "gold", "platinum")


def seeded_rng(seed: int, *parts: str) -> random.Random:
    """A generator per (seed, entity): data stays stable whatever order it is asked for in."""
    return random.Random(":".join((str(seed), *parts)))


def rfc3339(moment: datetime) -> str:
    """Fixed-width UTC with milliseconds, so comparing strings is comparing instants."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def product_image_path(product_id: str, width: int) -> str:
    """Where the stubs serve a product's image (see ``images``), below their own origin."""
    return f"/images/products/{product_id}/{width}.svg"


def avatar_path(account_id: str, initials: str) -> str:
    return f"/images/avatars/{account_id}.svg?initials={quote(initials)}"


def make_product(seed: int, product_id: str, origin: str = "") -> Product:
    """``origin`` is where the stubs are reached (``http://127.0.0.1:8100``): image URLs point
    there, so a browser shows them with no network beyond this machine."""
    rng = seeded_rng(seed, "product", product_id)
    category = rng.choice(sorted(_CATEGORIES))
    nouns, low, high = _CATEGORIES[category]
    title = f"{rng.choice(_ADJECTIVES)} {rng.choice(nouns)}"
    colour = rng.choice(_COLOURS)
    return Product(
        id=product_id,
        title=title,
        description=f"The {title.lower()} in {colour}, made to be used every day for years.",
        price=Money(amount_minor=rng.randint(low // 100, high // 100) * 100 - 1),
        images=[
            Image(
                url=origin + product_image_path(product_id, width),
                width=width,
                height=width,
            )
            for width in IMAGE_WIDTHS
        ],
        category=category,
        rating=Rating(average=round(rng.uniform(2.5, 5.0), 1), count=rng.randint(1, 2500)),
        attributes={"colour": colour, "brand": rng.choice(_BRANDS)},
    )


def make_inventory(seed: int, product_id: str, today: date) -> Inventory:
    rng = seeded_rng(seed, "inventory", product_id)
    if rng.random() < 0.15:
        restock = today + timedelta(days=rng.randint(3, 30))
        return Inventory(product_id, in_stock=False, quantity=0, restock_date=restock.isoformat())
    return Inventory(product_id, in_stock=True, quantity=rng.randint(1, 250), restock_date=None)


def make_account(seed: int, sub: str, origin: str = "") -> Account:
    """The profile of ``sub``: name and email as the dev IdP has them (``devstack.dev_users``),
    the rest from the seed."""
    rng = seeded_rng(seed, "account", sub)
    user = dev_user(sub)
    account_id = "acc_" + hashlib.sha256(f"{seed}:{sub}".encode()).hexdigest()[:12]
    created = SEEDED_HISTORY_END - timedelta(seconds=rng.randint(800 * 86400, 3000 * 86400))
    return Account(
        id=account_id,
        sub=sub,
        display_name=user.name,
        email=user.email,
        avatar_url=origin + avatar_path(account_id, user.given_name[:1] + user.family_name[:1]),
        tier=rng.choice(_TIERS),
        locale=rng.choice(_LOCALES),
        currency="EUR",
        created_at=rfc3339(created),
    )


def priced_lines(catalog: Mapping[str, Product], wanted: list[tuple[str, int]]) -> list[OrderLine]:
    return [
        OrderLine(product_id=pid, quantity=qty, unit_price=catalog[pid].price)
        for pid, qty in wanted
    ]


def total(lines: list[OrderLine]) -> Money:
    return Money(amount_minor=sum(line.unit_price.amount_minor * line.quantity for line in lines))


def order_key(order: Order) -> tuple[str, str]:
    return (order.placed_at, order.id)


def make_order_history(seed: int, sub: str, catalog: Mapping[str, Product]) -> list[Order]:
    """0-40 past orders, newest first; the newest may still be on its way, older ones arrived."""
    rng = seeded_rng(seed, "orders", sub)
    orders = []
    for index in range(rng.randint(0, 40)):
        placed = SEEDED_HISTORY_END - timedelta(seconds=rng.randint(3600, 730 * 86400))
        picks = rng.sample(list(catalog), rng.randint(1, 4))
        lines = priced_lines(catalog, [(pid, rng.randint(1, 3)) for pid in picks])
        order_id = "ord_" + hashlib.sha256(f"{seed}:{sub}:{index}".encode()).hexdigest()[:16]
        status = rng.choices(("delivered", "cancelled"), weights=(9, 1))[0]
        orders.append(Order(order_id, rfc3339(placed), status, total(lines), lines))
    orders.sort(key=order_key, reverse=True)
    if orders and orders[0].status == "delivered":
        orders[0].status = rng.choice(("placed", "shipped", "delivered"))
    return orders
