"""Catalog: products (one, or a batch in one call) and their inventory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from core_clients.base import CallContext, CoreClient, Money, WireStruct, path_segment

__all__ = ["CatalogClient", "Image", "Inventory", "Product", "Rating"]


class Image(WireStruct, frozen=True):
    url: str
    width: int
    height: int


class Rating(WireStruct, frozen=True):
    average: float
    count: int


class Product(WireStruct, frozen=True):
    id: str
    title: str
    description: str
    price: Money
    category: str
    rating: Rating
    images: list[Image] = msgspec.field(default_factory=list)
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)


class Inventory(WireStruct, frozen=True):
    product_id: str
    in_stock: bool
    quantity: int
    restock_date: str | None = None


class _ProductBatch(WireStruct, frozen=True):
    items: list[Product]


class CatalogClient(CoreClient):
    service = "catalog"

    async def get_product(self, product_id: str, *, ctx: CallContext) -> Product:
        """One product; ``CoreNotFound`` if there is no such product."""
        return await self._request(
            "GET",
            f"/v1/products/{path_segment(product_id)}",
            ctx=ctx,
            idempotent=True,
            decode_as=Product,
        )

    async def get_products(self, ids: Sequence[str], *, ctx: CallContext) -> list[Product]:
        """Many products in one call (never one call per id), in the order asked.

        Unknown ids are left out. No ids, no call.
        """
        if not ids:
            return []
        if any("," in product_id or not product_id for product_id in ids):
            raise ValueError("product ids must be non-empty and contain no comma")
        batch = await self._request(
            "GET",
            "/v1/products",
            ctx=ctx,
            params={"ids": ",".join(ids)},
            idempotent=True,
            decode_as=_ProductBatch,
        )
        return batch.items

    async def get_inventory(self, product_id: str, *, ctx: CallContext) -> Inventory:
        return await self._request(
            "GET",
            f"/v1/products/{path_segment(product_id)}/inventory",
            ctx=ctx,
            idempotent=True,
            decode_as=Inventory,
        )
