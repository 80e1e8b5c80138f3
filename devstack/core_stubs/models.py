"""Wire models: what the four services answer (camelCase, as ``CORE_SERVICES.md`` has it), what
an order request must look like, and the shapes of the control routes (chaos, call counters)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec


class Money(msgspec.Struct, rename="camel"):
    amount_minor: int
    currency: str = "EUR"


class Image(msgspec.Struct, rename="camel"):
    url: str
    width: int
    height: int


class Rating(msgspec.Struct, rename="camel"):
    average: float
    count: int


class Product(msgspec.Struct, rename="camel"):
    id: str
    title: str
    description: str
    price: Money
    images: list[Image]
    category: str
    rating: Rating
    attributes: dict[str, str]


class ProductList(msgspec.Struct, rename="camel"):
    items: list[Product]


class Inventory(msgspec.Struct, rename="camel"):
    product_id: str
    in_stock: bool
    quantity: int
    restock_date: str | None


class Account(msgspec.Struct, rename="camel"):
    id: str
    sub: str
    display_name: str
    email: str
    avatar_url: str
    tier: str
    locale: str
    currency: str
    created_at: str


class OrderLine(msgspec.Struct, rename="camel"):
    product_id: str
    quantity: int
    unit_price: Money


class Order(msgspec.Struct, rename="camel"):
    id: str
    placed_at: str
    status: str
    total: Money
    lines: list[OrderLine]


class OrderPage(msgspec.Struct, rename="camel"):
    items: list[Order]
    next_cursor: str | None


class NewOrderLine(msgspec.Struct, rename="camel", frozen=True):
    product_id: str
    quantity: Annotated[int, msgspec.Meta(ge=1, le=999)]


class NewOrder(msgspec.Struct, rename="camel", frozen=True):
    sub: Annotated[str, msgspec.Meta(min_length=1)]
    lines: Annotated[tuple[NewOrderLine, ...], msgspec.Meta(min_length=1)]


class Recommendations(msgspec.Struct, rename="camel"):
    product_ids: list[str]
    model_version: str


class ErrorBody(msgspec.Struct, rename="camel"):
    status: int
    title: str
    detail: str


class ChaosSpec(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Faults for one service; a typo in a knob is rejected rather than silently meaning "off"."""

    latency_ms: Annotated[int, msgspec.Meta(ge=0)] = 0
    jitter_ms: Annotated[int, msgspec.Meta(ge=0)] = 0
    error_rate: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.0
    status: Annotated[int, msgspec.Meta(ge=400, le=599)] = 503
    mode: Literal["error", "timeout", "reset", "garbage"] = "error"


class CallStats(msgspec.Struct, rename="camel"):
    calls: dict[str, int] = msgspec.field(default_factory=dict)
    last_traceparent: dict[str, str] = msgspec.field(default_factory=dict)
    last_deadline_ms: dict[str, str] = msgspec.field(default_factory=dict)
    last_request_id: dict[str, str] = msgspec.field(default_factory=dict)
    last_dpop_jkt: dict[str, str] = msgspec.field(default_factory=dict)
    """Per service, the key thumbprint of the last good DPoP proof."""
    dpop_refusals: int = 0
    """Requests refused for their DPoP proof or for a bound token sent as a bearer."""


class EchoStats(msgspec.Struct, rename="camel"):
    """What the echo upstream saw (``GET /_echo``): its calls, and the scheme and SHA-256 of
    each token, so a test can tell whose token arrived without the echo ever showing one."""

    calls: int = 0
    token_digests: list[str] = []
    token_schemes: list[str] = []
