"""Payloads for the app: camelCase, compact, only what the app shows.

No display strings: the app formats money and dates (RFC 3339) in the phone's own locale.

Compact by construction, without losing anything:

* amounts are integers in minor units; the screen's ``currency`` is said once at the top, and an
  item priced in another currency carries its own ``currency``;
* each image is one URL, picked for the device's pixel ratio, written as a suffix of the
  screen's ``imageBase`` (the longest common prefix of the screen's image URLs; the app joins
  ``imageBase + image``);
* fields equal to their default (empty lists, nulls) are left out (``omit_defaults``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.screens.rules import ProductId


class Payload(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    pass


class Card(Payload, kw_only=True):
    id: str
    title: str
    price: int
    currency: str | None = None
    image: str | None = None
    rating: float = 0.0


class OrderSummary(Payload, kw_only=True):
    id: str
    placed_at: str
    status: str
    total: int
    currency: str | None = None
    items: int
    image: str | None = None


class Screen(Payload, kw_only=True):
    currency: str
    image_base: str = ""


class Home(Screen, kw_only=True):
    name: str
    tier: str | None = None
    orders: list[OrderSummary] = []
    recommended: list[Card] = []
    degraded: list[str] = []


class ProductDetail(Screen, kw_only=True):
    id: str
    title: str
    description: str
    price: int
    images: list[str] = []
    rating: float = 0.0
    ratings: int = 0
    in_stock: bool | None = None
    stock: int | None = None
    restock_date: str | None = None
    related: list[Card] = []
    degraded: list[str] = []


class OrderLine(Payload, kw_only=True):
    product_id: str
    quantity: int
    unit_price: int
    currency: str | None = None
    title: str | None = None
    image: str | None = None


class OrderDetail(Payload, kw_only=True):
    id: str
    placed_at: str
    status: str
    total: int
    currency: str | None = None
    lines: list[OrderLine] = []


class PlacedOrder(Screen, kw_only=True):
    order: OrderDetail


class OrdersPage(Screen, kw_only=True):
    items: list[OrderDetail] = []
    next_cursor: str | None = None
    degraded: list[str] = []


class NewOrderLine(msgspec.Struct, rename="camel", kw_only=True):
    product_id: ProductId
    quantity: Annotated[int, msgspec.Meta(ge=1, le=99)]


class NewOrder(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    lines: Annotated[list[NewOrderLine], msgspec.Meta(min_length=1, max_length=20)]
