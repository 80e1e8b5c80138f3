"""A core client presenting a DPoP-bound token (``CallContext.authorization``): each attempt
carries a proof of its own for the request's method and full URL, and a service's
``use_dpop_nonce`` challenge is answered once, with the nonce, and remembered."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from core_clients.base import CallContext
from core_clients.catalog import CatalogClient
from core_clients.policy import ServicePolicy
from core_clients.transport import build_http_client
from devstack.core_stubs import create_stubs_app
from shared.identity.dpop import BoundToken, DpopKey
from tests.devstack.test_core_stubs_dpop import bound_token
from tests.fixtures.clock import FakeClock
from tests.fixtures.servers import serve_in_thread

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def nonce_stubs() -> Iterator[str]:
    with serve_in_thread(create_stubs_app(dpop_nonce="core-nonce")) as url:
        yield url


def context(key: DpopKey) -> CallContext:
    token = bound_token(key)
    return CallContext(access_token=token, authorization=BoundToken(token, key, FakeClock()))


async def stats(base_url: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=base_url) as control:
        result: dict[str, object] = (await control.get("/_stats")).json()
        return result


async def test_every_call_proves_the_key_with_a_fresh_proof(core_stubs: str) -> None:
    key = DpopKey.generate()
    ctx = context(key)
    async with build_http_client(f"{core_stubs}/catalog", ServicePolicy()) as http:
        client = CatalogClient(http)
        for product in ("7", "7", "8"):
            assert (await client.get_product(product, ctx=ctx)).id == product
    seen = await stats(core_stubs)
    assert seen["lastDpopJkt"] == {"catalog": key.thumbprint}
    assert seen["dpopRefusals"] == 0


async def test_a_nonce_challenge_is_answered_once_and_remembered(nonce_stubs: str) -> None:
    key = DpopKey.generate()
    ctx = context(key)
    async with build_http_client(f"{nonce_stubs}/catalog", ServicePolicy()) as http:
        client = CatalogClient(http)
        assert (await client.get_product("7", ctx=ctx)).id == "7"
        assert (await stats(nonce_stubs))["dpopRefusals"] == 1  # the first proof had no nonce
        assert (await client.get_product("8", ctx=ctx)).id == "8"
    seen = await stats(nonce_stubs)
    assert seen["dpopRefusals"] == 1  # the nonce was kept: asked for once only
    assert seen["calls"] == {"catalog GET /v1/products/{id}": 3}
