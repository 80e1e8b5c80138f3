"""What the stubs remember (``StubState``), and how handlers and middleware reach it."""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import NamedDependency

from devstack.core_stubs.models import (
    CallStats,
    ChaosSpec,
    EchoStats,
    NewOrder,
    Order,
    Product,
)
from devstack.core_stubs.seed import (
    SEEDED_HISTORY_END,
    make_order_history,
    make_product,
    priced_lines,
    rfc3339,
    total,
)
from devstack.received_jwts import SeenTokenIds

#: How many origins' copies of the catalog are kept (oldest dropped first).
MAX_ORIGINS = 8


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
    catalogs_by_origin: dict[str, dict[str, Product]] = field(default_factory=dict)
    echo: EchoStats = field(default_factory=EchoStats)
    seen_proofs: SeenTokenIds = field(default_factory=SeenTokenIds)
    dpop_nonce: str | None = None

    def catalog_at(self, origin: str) -> dict[str, Product]:
        """The catalog as answered to a caller that reached the stubs at ``origin``: the same
        products, with image URLs under that origin (the stubs serve the images themselves)."""
        if origin not in self.catalogs_by_origin:
            if len(self.catalogs_by_origin) >= MAX_ORIGINS:  # a Host header is the caller's
                self.catalogs_by_origin.pop(next(iter(self.catalogs_by_origin)))
            self.catalogs_by_origin[origin] = {
                product_id: make_product(self.seed, product_id, origin)
                for product_id in self.catalog
            }
        return self.catalogs_by_origin[origin]

    def history(self, sub: str) -> list[Order]:
        if sub not in self.histories:
            self.histories[sub] = make_order_history(self.seed, sub, self.catalog)
        return self.histories[sub]

    def place(self, request: NewOrder) -> Order:
        lines = priced_lines(
            self.catalog, [(line.product_id, line.quantity) for line in request.lines]
        )
        order = Order(
            id="ord_" + uuid.uuid4().hex[:16],
            placed_at=self._next_placed_at(),
            status="placed",
            total=total(lines),
            lines=lines,
        )
        self.history(request.sub).insert(0, order)
        return order

    def _next_placed_at(self) -> str:
        """Strictly increasing, so "newest first" holds even for orders placed in the same ms."""
        self.last_placed_at = max(
            datetime.now(UTC), self.last_placed_at + timedelta(milliseconds=1)
        )
        return rfc3339(self.last_placed_at)


#: How a handler asks for the app's ``StubState`` (the app provides it under ``stubs``).
Stubs = NamedDependency[StubState]


def provide_stubs(state: State) -> StubState:
    return cast(StubState, state.stubs)


def stubs_of(app: Litestar) -> StubState:
    """Found through the app: Litestar deep-copies routers, so middleware must hold no state."""
    return cast(StubState, app.state.stubs)
