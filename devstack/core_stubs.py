"""Stand-in core services: accounts, catalog, orders and recommendations behind one Litestar app.

The gateways are only as well tested as the services they are tested against, so these stubs
follow ``CORE_SERVICES.md`` to the letter (seeded data, cursor pagination, idempotent order
placement, bearer check) and add what the real services cannot give a test: faults on demand
(``/_chaos``) and call counters (``/_stats``) that show how many calls a cache or single-flight
really let through.

Each service lives under its own prefix (``/catalog/v1/products/7``), so one port serves all four
and a gateway is pointed at them with four base URLs, exactly as in production. Counting, chaos and
the bearer check live in one middleware on the service routers; handlers only build answers.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import hashlib
import logging
import random
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any, Literal, cast

import msgspec
from litestar import Litestar, Request, Response, Router, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, NotFoundException
from litestar.middleware import ASGIMiddleware
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

SERVICES = ("accounts", "catalog", "orders", "recommendations")
PRODUCT_COUNT = 500
IMAGE_WIDTHS = (160, 320, 480, 960)
MAX_PAGE_LIMIT = 50
DEFAULT_PAGE_LIMIT = 10
TIMEOUT_HANG_SECONDS = 300.0
# Seeded histories end here rather than at "now" so the same seed gives the same bytes on any day;
# orders placed through the API are stamped with the real time and so always sort first.
SEEDED_HISTORY_END = datetime(2025, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- wire models


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


# --------------------------------------------------------------------------- seeded data

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
_FIRST_NAMES = ("Ada", "Bruno", "Chloé", "Dieter", "Elena", "Farid", "Greta", "Hugo", "Inès")
_LAST_NAMES = ("Okafor", "Schmidt", "Dubois", "Rossi", "Novak", "Lindqvist", "Moreau", "Weber")
_LOCALES = ("en-GB", "de-DE", "fr-FR")
_TIERS = ("standard", "standard", "silver", "gold", "platinum")


def _rng(seed: int, *parts: str) -> random.Random:
    """A generator per (seed, entity): data stays stable whatever order it is asked for in."""
    return random.Random(":".join((str(seed), *parts)))


def _rfc3339(moment: datetime) -> str:
    """Fixed-width UTC with milliseconds, so comparing strings is comparing instants."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _make_product(seed: int, product_id: str) -> Product:
    rng = _rng(seed, "product", product_id)
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
                url=f"https://cdn.example.com/products/{product_id}/{width}.jpg",
                width=width,
                height=width,
            )
            for width in IMAGE_WIDTHS
        ],
        category=category,
        rating=Rating(average=round(rng.uniform(2.5, 5.0), 1), count=rng.randint(1, 2500)),
        attributes={"colour": colour, "brand": rng.choice(_BRANDS)},
    )


def _make_inventory(seed: int, product_id: str, today: date) -> Inventory:
    rng = _rng(seed, "inventory", product_id)
    if rng.random() < 0.15:
        restock = today + timedelta(days=rng.randint(3, 30))
        return Inventory(product_id, in_stock=False, quantity=0, restock_date=restock.isoformat())
    return Inventory(product_id, in_stock=True, quantity=rng.randint(1, 250), restock_date=None)


def _ascii(name: str) -> str:
    """Accented names stay in ``displayName``; addresses stay ASCII, as most validators expect."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def _make_account(seed: int, sub: str) -> Account:
    rng = _rng(seed, "account", sub)
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    account_id = "acc_" + hashlib.sha256(f"{seed}:{sub}".encode()).hexdigest()[:12]
    created = SEEDED_HISTORY_END - timedelta(seconds=rng.randint(800 * 86400, 3000 * 86400))
    return Account(
        id=account_id,
        sub=sub,
        display_name=f"{first} {last}",
        email=f"{_ascii(first)}.{_ascii(last)}.{account_id[-4:]}@example.com",
        avatar_url=f"https://cdn.example.com/avatars/{account_id}.png",
        tier=rng.choice(_TIERS),
        locale=rng.choice(_LOCALES),
        currency="EUR",
        created_at=_rfc3339(created),
    )


def _priced_lines(catalog: Mapping[str, Product], wanted: list[tuple[str, int]]) -> list[OrderLine]:
    return [
        OrderLine(product_id=pid, quantity=qty, unit_price=catalog[pid].price)
        for pid, qty in wanted
    ]


def _total(lines: list[OrderLine]) -> Money:
    return Money(amount_minor=sum(line.unit_price.amount_minor * line.quantity for line in lines))


def _order_key(order: Order) -> tuple[str, str]:
    return (order.placed_at, order.id)


def _make_order_history(seed: int, sub: str, catalog: Mapping[str, Product]) -> list[Order]:
    """0-40 past orders, newest first; the newest may still be on its way, older ones arrived."""
    rng = _rng(seed, "orders", sub)
    orders = []
    for index in range(rng.randint(0, 40)):
        placed = SEEDED_HISTORY_END - timedelta(seconds=rng.randint(3600, 730 * 86400))
        picks = rng.sample(list(catalog), rng.randint(1, 4))
        lines = _priced_lines(catalog, [(pid, rng.randint(1, 3)) for pid in picks])
        order_id = "ord_" + hashlib.sha256(f"{seed}:{sub}:{index}".encode()).hexdigest()[:16]
        status = rng.choices(("delivered", "cancelled"), weights=(9, 1))[0]
        orders.append(Order(order_id, _rfc3339(placed), status, _total(lines), lines))
    orders.sort(key=_order_key, reverse=True)
    if orders and orders[0].status == "delivered":
        orders[0].status = rng.choice(("placed", "shipped", "delivered"))
    return orders


def _encode_cursor(order: Order) -> str:
    """Points after an order, not at a position, so an order placed meanwhile shifts nothing."""
    raw = msgspec.json.encode(_order_key(order))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=tuple[str, str])
    except (ValueError, msgspec.DecodeError) as exc:
        raise HTTPException(
            status_code=400, detail="cursor is not one this service issued"
        ) from exc


# --------------------------------------------------------------------------- state


@dataclass
class StubState:
    """Everything the stubs remember, owned by one app so two apps in one test never share it."""

    seed: int
    latency_ms: int
    chaos: dict[str, ChaosSpec]
    catalog: dict[str, Product]
    stats: CallStats = field(default_factory=CallStats)
    histories: dict[str, list[Order]] = field(default_factory=dict)
    idempotency_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    placed_by_key: dict[str, tuple[NewOrder, Order]] = field(default_factory=dict)
    last_placed_at: datetime = SEEDED_HISTORY_END
    chaos_rng: random.Random = field(default_factory=random.Random)

    def history(self, sub: str) -> list[Order]:
        if sub not in self.histories:
            self.histories[sub] = _make_order_history(self.seed, sub, self.catalog)
        return self.histories[sub]

    def place(self, request: NewOrder) -> Order:
        lines = _priced_lines(
            self.catalog, [(line.product_id, line.quantity) for line in request.lines]
        )
        order = Order(
            id="ord_" + uuid.uuid4().hex[:16],
            placed_at=self._next_placed_at(),
            status="placed",
            total=_total(lines),
            lines=lines,
        )
        self.history(request.sub).insert(0, order)
        return order

    def _next_placed_at(self) -> str:
        """Strictly increasing, so "newest first" holds even for orders placed in the same ms."""
        self.last_placed_at = max(
            datetime.now(UTC), self.last_placed_at + timedelta(milliseconds=1)
        )
        return _rfc3339(self.last_placed_at)


# --------------------------------------------------------------------------- faults and counters

# Set by a deliberate reset, read by the log filter below, so an injected connection drop does not
# fill the server log with "ASGI callable returned without completing response".
_deliberate_reset: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "deliberate_reset", default=False
)


class _QuietDeliberateResets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _deliberate_reset.get()


async def _send_json(send: Send, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _error(status: int, detail: str) -> bytes:
    return msgspec.json.encode(ErrorBody(status, HTTPStatus(status).phrase, detail))


async def _hang_until_disconnect(receive: Receive) -> None:
    """Uvicorn does not cancel a request when its client leaves; waiting on receive notices."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _inject_fault(spec: ChaosSpec, receive: Receive, send: Send, rng: random.Random) -> None:
    if spec.mode == "error":
        await _send_json(send, spec.status, _error(spec.status, "injected failure"))
    elif spec.mode == "timeout":
        try:
            await asyncio.wait_for(_hang_until_disconnect(receive), TIMEOUT_HANG_SECONDS)
        except TimeoutError:
            await _send_json(send, 504, _error(504, "injected timeout ran out"))
    elif spec.mode == "reset":
        # Promise a body, send part of it, and return: the server then has to close the
        # connection, and the client sees it drop mid-response.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"items": [', "more_body": True})
        _deliberate_reset.set(True)
    else:
        garbage = rng.choice((b'{"unexpected": [1, 2]}', b'{"items": [{"id": "1", "ti'))
        await _send_json(send, 200, garbage)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _stubs_of(app: Litestar) -> StubState:
    """Found through the app: Litestar deep-copies routers, so middleware must hold no state."""
    return cast(StubState, app.state.stubs)


class CoreServiceMiddleware(ASGIMiddleware):
    """Counts, injects chaos, then checks the bearer, so a faulted or refused call still counts."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        stubs = _stubs_of(scope["litestar_app"])
        service: str = scope["route_handler"].opt["service"]
        template = scope["path_template"].removeprefix(f"/{service}")
        method = cast("HTTPScope", scope)["method"]
        _record_call(stubs.stats, service, f"{service} {method} {template}", scope)

        spec = stubs.chaos.get(service, ChaosSpec())
        delay_ms: float = stubs.latency_ms + spec.latency_ms
        delay_ms += stubs.chaos_rng.uniform(0, spec.jitter_ms) if spec.jitter_ms else 0
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        if spec.error_rate and stubs.chaos_rng.random() < spec.error_rate:
            await _inject_fault(spec, receive, send, stubs.chaos_rng)
            return

        authorization = _header(scope, b"authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            body = _error(401, "a bearer token is required")
            await _send_json(send, 401, body, (b"www-authenticate", b"Bearer"))
            return
        await next_app(scope, receive, send)


def _record_call(stats: CallStats, service: str, call: str, scope: Scope) -> None:
    stats.calls[call] = stats.calls.get(call, 0) + 1
    for name, seen in (
        (b"traceparent", stats.last_traceparent),
        (b"x-deadline-ms", stats.last_deadline_ms),
        (b"x-request-id", stats.last_request_id),
    ):
        if (value := _header(scope, name)) is not None:
            seen[service] = value


# --------------------------------------------------------------------------- service routes

Stubs = NamedDependency[StubState]


def _known_product(stubs: Stubs, product_id: str) -> Product:
    product = stubs.catalog.get(product_id)
    if product is None:
        raise NotFoundException(f"no product {product_id!r}")
    return product


@get("/v1/accounts/{sub:str}")
async def get_account(sub: FromPath[str], stubs: Stubs) -> Account:
    return _make_account(stubs.seed, sub)


@get("/v1/products/{id:str}")
async def get_product(id: FromPath[str], stubs: Stubs) -> Product:
    return _known_product(stubs, id)


@get("/v1/products")
async def get_products(ids: FromQuery[str], stubs: Stubs) -> ProductList:
    wanted = (product_id.strip() for product_id in ids.split(","))
    return ProductList([stubs.catalog[pid] for pid in wanted if pid in stubs.catalog])


@get("/v1/products/{id:str}/inventory")
async def get_inventory(id: FromPath[str], stubs: Stubs) -> Inventory:
    _known_product(stubs, id)
    return _make_inventory(stubs.seed, id, datetime.now(UTC).date())


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
        remaining = [order for order in remaining if _order_key(order) < after]
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
    ranked = _rng(stubs.seed, "recommendations", sub).sample(list(stubs.catalog), MAX_PAGE_LIMIT)
    return Recommendations(product_ids=ranked[:limit], model_version=f"stub-reco-{stubs.seed}")


_SERVICE_ROUTES = {
    "accounts": [get_account],
    "catalog": [get_product, get_products, get_inventory],
    "orders": [list_orders, place_order],
    "recommendations": [get_recommendations],
}


# --------------------------------------------------------------------------- control routes


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/_chaos")
async def show_chaos(stubs: Stubs) -> dict[str, ChaosSpec]:
    return {service: stubs.chaos.get(service, ChaosSpec()) for service in SERVICES}


@put("/_chaos/{service:str}")
async def set_chaos(service: FromPath[str], data: JSONBody[ChaosSpec], stubs: Stubs) -> ChaosSpec:
    if service not in SERVICES:
        raise NotFoundException(f"no service {service!r}; known: {', '.join(SERVICES)}")
    stubs.chaos[service] = data
    return data


@delete("/_chaos")
async def clear_chaos(stubs: Stubs) -> None:
    stubs.chaos.clear()


@get("/_stats")
async def show_stats(stubs: Stubs) -> CallStats:
    return stubs.stats


@delete("/_stats")
async def clear_stats(stubs: Stubs) -> None:
    stubs.stats = CallStats()


def _error_response(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    """One error shape for every refusal, including Litestar's own 400s and 404s."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    details = [f"{p.get('key')}: {p.get('message')}" for p in problems if isinstance(p, dict)]
    body = ErrorBody(
        exc.status_code, HTTPStatus(exc.status_code).phrase, "; ".join([exc.detail, *details])
    )
    return Response(body, status_code=exc.status_code, headers=exc.headers)


def _provide_stubs(state: State) -> StubState:
    return cast(StubState, state.stubs)


def create_stubs_app(
    *, seed: int = 42, latency_ms: int = 0, chaos: Mapping[str, ChaosSpec] | None = None
) -> Litestar:
    """Build the four stand-in services.

    ``latency_ms`` is the network and work time every call costs (benchmarks set it so a cache has
    something to save); it is not a fault, so ``DELETE /_chaos`` keeps it. ``chaos`` is the fault
    set-up to start with, as if ``PUT /_chaos/{service}`` had been called for each entry.
    """
    unknown = sorted(set(chaos or {}) - set(SERVICES))
    if unknown:
        raise ValueError(f"chaos for unknown services {unknown}; known: {', '.join(SERVICES)}")
    if latency_ms < 0:
        raise ValueError("latency_ms must not be negative")
    state = StubState(
        seed=seed,
        latency_ms=latency_ms,
        chaos=dict(chaos or {}),
        catalog={str(n): _make_product(seed, str(n)) for n in range(1, PRODUCT_COUNT + 1)},
    )
    counted_and_guarded = CoreServiceMiddleware()
    services = [
        Router(
            f"/{name}",
            route_handlers=handlers,
            middleware=[counted_and_guarded],
            opt={"service": name},
        )
        for name, handlers in _SERVICE_ROUTES.items()
    ]
    server_log = logging.getLogger("uvicorn.error")
    quiet_resets = _QuietDeliberateResets()
    return Litestar(
        route_handlers=[
            *services,
            health,
            show_chaos,
            set_chaos,
            clear_chaos,
            show_stats,
            clear_stats,
        ],
        state=State({"stubs": state}),
        dependencies={"stubs": Provide(_provide_stubs, sync_to_thread=False)},
        exception_handlers={HTTPException: _error_response},
        on_startup=[lambda: server_log.addFilter(quiet_resets)],
        on_shutdown=[lambda: server_log.removeFilter(quiet_resets)],
        openapi_config=None,
    )
