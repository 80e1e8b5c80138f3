"""What a screen accepts before any core call: one product-id rule for paths and bodies, and
the Idempotency-Key an order needs."""

from __future__ import annotations

import msgspec
import pytest

from shared.platform.errors import BadRequest
from shared.screens.rules import ProductId, check_idempotency_key, check_product_id

IDS = {
    "7": True,
    "sku_42-B": True,
    "a" * 64: True,
    "a" * 65: False,
    "": False,
    "../x": False,
    "7,8": False,
    "7 ": False,
    "7\n": False,  # Python's "$" alone would let a final newline through
    "caf\u00e9": False,
}


class Line(msgspec.Struct):
    product_id: ProductId


def body_accepts(product_id: str) -> bool:
    try:
        msgspec.json.decode(msgspec.json.encode({"product_id": product_id}), type=Line)
    except msgspec.ValidationError:
        return False
    return True


def path_accepts(product_id: str) -> bool:
    try:
        return check_product_id(product_id) == product_id
    except BadRequest:
        return False


@pytest.mark.parametrize(("product_id", "valid"), IDS.items())
def test_a_product_id_is_valid_in_a_path_exactly_when_it_is_in_a_body(
    product_id: str, valid: bool
) -> None:
    assert path_accepts(product_id) is valid
    assert body_accepts(product_id) is valid


def test_an_order_needs_a_well_formed_idempotency_key() -> None:
    assert check_idempotency_key("order-key-0001") == "order-key-0001"
    with pytest.raises(BadRequest, match="required"):
        check_idempotency_key(None)
    with pytest.raises(BadRequest, match="8 to 128"):
        check_idempotency_key("short")
    with pytest.raises(BadRequest, match="8 to 128"):
        check_idempotency_key("has spaces in it")
