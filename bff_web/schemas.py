"""View models for the SPA: camelCase, display-ready (labels next to the raw values)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from shared.screens.rules import ProductId


class View(msgspec.Struct, rename="camel", kw_only=True):
    pass


class MoneyView(View):
    amount_minor: int
    currency: str


class ProductCard(View):
    id: str
    title: str
    price: MoneyView
    price_label: str
    image_url: str | None
    rating: float
    rating_count: int


class UserSummary(View):
    display_name: str
    avatar_url: str | None
    tier: str


class OrderSummary(View):
    id: str
    placed_at: str
    placed_at_label: str
    status: str
    status_label: str
    total: MoneyView
    total_label: str
    item_count: int
    thumbnails: list[str]


class HomeView(View):
    greeting: str
    user: UserSummary
    recent_orders: list[OrderSummary]
    recommendations: list[ProductCard]
    degraded: list[str]


class ImageView(View):
    url: str
    width: int
    height: int


class Availability(View):
    in_stock: bool
    label: str


class ProductView(View):
    id: str
    title: str
    description: str
    price: MoneyView
    price_label: str
    images: list[ImageView]
    category: str
    rating: float
    rating_count: int
    attributes: dict[str, Any]
    availability: Availability | None
    related: list[ProductCard]
    degraded: list[str]


class OrderLineView(View):
    product_id: str
    title: str | None
    image_url: str | None
    quantity: int
    unit_price: MoneyView
    unit_price_label: str
    line_total_label: str


class OrderView(View):
    id: str
    placed_at: str
    placed_at_label: str
    status: str
    status_label: str
    total: MoneyView
    total_label: str
    lines: list[OrderLineView]


class OrdersPage(View):
    items: list[OrderView]
    next_cursor: str | None
    degraded: list[str]


class NewOrderLineIn(View):
    product_id: ProductId
    quantity: Annotated[int, msgspec.Meta(ge=1, le=99)]


class NewOrderIn(View, forbid_unknown_fields=True):
    lines: Annotated[list[NewOrderLineIn], msgspec.Meta(min_length=1, max_length=20)]
