"""The four services' routes. Handlers only build answers: counting, chaos and the bearer check
happen in front of them (``middleware``), and each list here is mounted under its service's
prefix (``/catalog/v1/products/7``)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, HeaderParameter, QueryParameter

from devstack.core_stubs.models import (
    Account,
    Inventory,
    NewOrder,
    Order,
    OrderPage,
    Product,
    ProductList,
    Recommendations,
)
from devstack.core_stubs.seed import make_account, make_inventory, order_key, seeded_rng
from devstack.core_stubs.state import Stubs

SERVICES = ("accounts", "catalog", "orders", "recommendations")
MAX_PAGE_LIMIT = 50
DEFAULT_PAGE_LIMIT = 10


def _encode_cursor(order: Order) -> str:
    """Points after an order, not at a position, so an order placed meanwhile shifts nothing."""
    raw = msgspec.json.encode(order_key(order))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=tuple[str, str])
    except (ValueError, msgspec.DecodeError) as exc:
        raise HTTPException(
            status_code=400, detail="cursor is not one this service issued"
        ) from exc


def origin_of(request: Request[Any, Any, Any]) -> str:
    """How the caller reached the stubs (``http://127.0.0.1:8100``), for the image URLs."""
    return str(request.base_url).rstrip("/")


def _known_product(catalog: Mapping[str, Product], product_id: str) -> Product:
    product = catalog.get(product_id)
    if product is None:
        raise NotFoundException(f"no product {product_id!r}")
    return product


@get("/v1/accounts/{sub:str}")
async def get_account(sub: FromPath[str], stubs: Stubs, request: Request[Any, Any, Any]) -> Account:
    return make_account(stubs.seed, sub, origin_of(request))


@get("/v1/products/{id:str}")
async def get_product(id: FromPath[str], stubs: Stubs, request: Request[Any, Any, Any]) -> Product:
    return _known_product(stubs.catalog_at(origin_of(request)), id)


@get("/v1/products")
async def get_products(
    ids: FromQuery[str], stubs: Stubs, request: Request[Any, Any, Any]
) -> ProductList:
    catalog = stubs.catalog_at(origin_of(request))
    wanted = (product_id.strip() for product_id in ids.split(","))
    return ProductList([catalog[pid] for pid in wanted if pid in catalog])


@get("/v1/products/{id:str}/inventory")
async def get_inventory(id: FromPath[str], stubs: Stubs) -> Inventory:
    _known_product(stubs.catalog, id)
    return make_inventory(stubs.seed, id, datetime.now(UTC).date())


PageLimit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_LIMIT)]


@get("/v1/accounts/{sub:str}/orders")
async def list_orders(
    sub: FromPath[str],
    stubs: Stubs,
    cursor: FromQuery[str | None] = None,
    limit: PageLimit = DEFAULT_PAGE_LIMIT,
) -> OrderPage:
    remaining = stubs.history(sub)
    if cursor:
        after = _decode_cursor(cursor)
        remaining = [order for order in remaining if order_key(order) < after]
    page = remaining[:limit]
    next_cursor = _encode_cursor(page[-1]) if len(remaining) > limit else None
    return OrderPage(items=page, next_cursor=next_cursor)


def _parse_new_order(body: bytes, catalog: Mapping[str, Product]) -> NewOrder:
    try:
        new_order = msgspec.json.decode(body, type=NewOrder)
    except msgspec.DecodeError as exc:
        raise HTTPException(status_code=422, detail=f"invalid order: {exc}") from exc
    unknown = [line.product_id for line in new_order.lines if line.product_id not in catalog]
    if unknown:
        raise HTTPException(status_code=422, detail=f"unknown products: {', '.join(unknown)}")
    return new_order


@post("/v1/orders", status_code=201)
async def place_order(
    request: Request[Any, Any, Any],
    stubs: Stubs,
    idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key")] = None,
) -> Response[Order]:
    """Place an order at most once per key.

    The lock makes "look up the key, else place and remember" one step for concurrent duplicates,
    which a retrying client sends when its first attempt timed out but still went through.
    """
    if not idempotency_key:
        raise HTTPException(status_code=400, detail="an Idempotency-Key header is required")
    new_order = _parse_new_order(await request.body(), stubs.catalog)
    async with stubs.idempotency_locks.setdefault(idempotency_key, asyncio.Lock()):
        if (seen := stubs.placed_by_key.get(idempotency_key)) is not None:
            first_request, order = seen
            if first_request != new_order:
                raise HTTPException(
                    status_code=409, detail="this Idempotency-Key was used for another order"
                )
            return Response(order, status_code=201, headers={"Idempotent-Replayed": "true"})
        order = stubs.place(new_order)
        stubs.placed_by_key[idempotency_key] = (new_order, order)
    return Response(order, status_code=201)


@get("/v1/accounts/{sub:str}/recommendations")
async def get_recommendations(
    sub: FromPath[str], stubs: Stubs, limit: PageLimit = DEFAULT_PAGE_LIMIT
) -> Recommendations:
    ranked = seeded_rng(stubs.seed, "recommendations", sub).sample(
        list(stubs.catalog), MAX_PAGE_LIMIT
    )
    return Recommendations(product_ids=ranked[:limit], model_version=f"stub-reco-{stubs.seed}")


#: Each service's routes, mounted by the app under ``/{service}``.
SERVICE_ROUTES: dict[str, list[HTTPRouteHandler]] = {
    "accounts": [get_account],
    "catalog": [get_product, get_products, get_inventory],
    "orders": [list_orders, place_order],
    "recommendations": [get_recommendations],
}
