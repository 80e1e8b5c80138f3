"""Wire bodies as the core services send them (camelCase, with fields we do not model)."""

from __future__ import annotations

from typing import Any


def product(product_id: str = "7") -> dict[str, Any]:
    return {
        "id": product_id,
        "title": f"Product {product_id}",
        "description": "A thing",
        "price": {"amountMinor": 1999, "currency": "EUR", "display": "19.99 EUR"},
        "images": [{"url": f"https://img.test/{product_id}.jpg", "width": 640, "height": 480}],
        "category": "tools",
        "rating": {"average": 4.5, "count": 12},
        "attributes": {"colour": "red", "sizes": [1, 2]},
        "warehouseNotes": "unknown to the contract",
    }


ACCOUNT: dict[str, Any] = {
    "id": "acc-1",
    "sub": "alice@example.test",
    "displayName": "Alice",
    "email": "alice@example.test",
    "avatarUrl": "https://img.test/alice.png",
    "tier": "gold",
    "locale": "en-GB",
    "currency": "EUR",
    "createdAt": "2024-01-02T03:04:05Z",
    "internalScore": 17,
}

ORDER: dict[str, Any] = {
    "id": "ord-1",
    "placedAt": "2025-02-03T04:05:06Z",
    "status": "placed",
    "total": {"amountMinor": 3998, "currency": "EUR"},
    "lines": [
        {"productId": "7", "quantity": 2, "unitPrice": {"amountMinor": 1999, "currency": "EUR"}}
    ],
}
