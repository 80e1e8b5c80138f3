"""The product screen as most teams first write a BFF, for the benchmark to compare against.

A Litestar app that, for every ``GET /api/products/{id}``, opens a default ``httpx.AsyncClient``
and calls the core services one after the other (account, product, inventory, recommendations,
the recommended products), with no cache, no session and no deadline, then returns JSON much
like the web gateway's ``ProductView``. The calls carry a fixed bearer and a fixed user, since
there is no session to take them from.

It is a reference only: product code never imports it. It runs under the same server as the
gateways (``python -m bench.serve bench.naive_bff:create_app``); ``BENCH_NAIVE_STUBS_URL`` says
where the core stubs listen.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from litestar import Litestar, get

STUBS_URL_VARIABLE = "BENCH_NAIVE_STUBS_URL"
USER = "alice"
RELATED = 4
HEADERS = {"Authorization": "Bearer naive-bff-bench"}


def create_app() -> Litestar:
    stubs_url = os.environ[STUBS_URL_VARIABLE].rstrip("/")

    @get("/api/products/{product_id:str}")
    async def product_page(product_id: str) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=stubs_url, headers=HEADERS) as client:
            # The account is fetched as the real screen does (for the locale), then unused by
            # this simple formatting: a typical first version's leftover.
            await client.get(f"/accounts/v1/accounts/{USER}")
            product_response = await client.get(f"/catalog/v1/products/{product_id}")
            product_response.raise_for_status()
            product = product_response.json()
            inventory = (await client.get(f"/catalog/v1/products/{product_id}/inventory")).json()
            ranked = await client.get(f"/recommendations/v1/accounts/{USER}/recommendations")
            related_ids = [i for i in ranked.json()["productIds"] if i != product_id][:RELATED]
            related = await client.get(
                "/catalog/v1/products", params={"ids": ",".join(related_ids)}
            )
        return {
            "id": product["id"],
            "title": product["title"],
            "description": product["description"],
            "price": product["price"],
            "priceLabel": price_label(product["price"]),
            "images": product["images"],
            "category": product["category"],
            "rating": product["rating"]["average"],
            "ratingCount": product["rating"]["count"],
            "attributes": product["attributes"],
            "availability": {
                "inStock": inventory["inStock"],
                "label": "In stock" if inventory["inStock"] else "Out of stock",
            },
            "related": [card(item) for item in related.json()["items"]],
            "degraded": [],
        }

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(route_handlers=[product_page, health], openapi_config=None)


def price_label(price: dict[str, Any]) -> str:
    return f"{price['amountMinor'] / 100:.2f} {price['currency']}"


def card(product: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": product["id"],
        "title": product["title"],
        "price": product["price"],
        "priceLabel": price_label(product["price"]),
        "imageUrl": product["images"][0]["url"] if product["images"] else None,
        "rating": product["rating"]["average"],
        "ratingCount": product["rating"]["count"],
    }
