"""The framework's ceiling: a bare Litestar app that answers the product screen's route with the
bytes the web gateway sent for it, fetched once and then served constant.

No session, no cache, no core call, no telemetry: what is left is Litestar routing one request
and granian carrying it, under the same server options as the gateways (``bench.serve``). The
gateways' throughput is reported as a fraction of this one's, measured in the same run, because
absolute numbers on a shared two-core machine mean little from one hour to the next.
"""

from __future__ import annotations

import os
from pathlib import Path

from litestar import Litestar, MediaType, Response, get

BODY_FILE_VARIABLE = "BENCH_CEILING_BODY_FILE"


def create_app() -> Litestar:
    body = Path(os.environ[BODY_FILE_VARIABLE]).read_bytes()

    @get("/api/products/{product_id:str}")
    async def product_page(product_id: str) -> Response[bytes]:
        return Response(body, media_type=MediaType.JSON)

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(route_handlers=[product_page, health], openapi_config=None)
