"""What a screen accepts from a client before anything reaches a core service.

The product-id rule is written once, here: ``check_product_id`` applies it to a path segment,
``ProductId`` to a product id inside a request body (both gateways' order schemas), so an id
the product page refuses can never be ordered, and the reverse.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

import msgspec

from shared.platform.errors import BadRequest

__all__ = ["PRODUCT_ID_PATTERN", "ProductId", "check_idempotency_key", "check_product_id"]

PRODUCT_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$(?!\n)"
"""Short and URL-safe. ``(?!\\n)``: Python's ``$`` also matches before a final newline; the
lookahead refuses that, and leaves the pattern valid (and the same) for an OpenAPI reader."""

ProductId = Annotated[str, msgspec.Meta(pattern=PRODUCT_ID_PATTERN)]

_PRODUCT_ID: Final = re.compile(PRODUCT_ID_PATTERN)
_IDEMPOTENCY_KEY: Final = re.compile(r"[A-Za-z0-9_.:-]{8,128}")


def check_product_id(product_id: str) -> str:
    """Anything but a product id is a 400, never a core call."""
    if not _PRODUCT_ID.search(product_id):
        raise BadRequest("Not a product id")
    return product_id


def check_idempotency_key(value: str | None) -> str:
    """Placing an order needs the client's key, so a retried request never orders twice."""
    if not value:
        raise BadRequest("The Idempotency-Key header is required")
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise BadRequest("The Idempotency-Key header must be 8 to 128 URL-safe characters")
    return value
