"""Every 503 answer says when to come back; every other status leaves that to the client."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
from litestar import Litestar, get
from litestar.testing import TestClient
from redis.exceptions import ConnectionError as RedisConnectionError

from shared.platform.errors import (
    EXCEPTION_HANDLERS,
    RETRY_AFTER_S,
    CoreUnavailable,
    NotReady,
    Unauthenticated,
    problem_response,
    unavailable_headers,
)


@get("/store-down")
async def store_down() -> None:
    raise RedisConnectionError("Connection refused")


@get("/not-ready")
async def not_ready() -> None:
    raise NotReady("The identity provider is unavailable")


@get("/core-down")
async def core_down() -> None:
    raise CoreUnavailable("catalog")


@get("/signed-out")
async def signed_out() -> None:
    raise Unauthenticated()


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Litestar]]:
    app = Litestar(
        [store_down, not_ready, core_down, signed_out], exception_handlers=EXCEPTION_HANDLERS
    )
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/store-down", "/not-ready", "/core-down"])
def test_every_503_problem_carries_retry_after(client: TestClient[Litestar], path: str) -> None:
    """Redis unreachable, the IdP away, a core service down: 503 problem+json, Retry-After."""
    response = client.get(path)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(RETRY_AFTER_S)
    assert msgspec.json.decode(response.content)["status"] == 503


def test_other_problems_have_no_retry_after(client: TestClient[Litestar]) -> None:
    response = client.get("/signed-out")
    assert response.status_code == 401
    assert "retry-after" not in response.headers


def test_a_retry_after_set_at_the_raise_site_is_kept() -> None:
    response = problem_response(503, "x", "X", "x", headers={"Retry-After": "30"})
    assert [v for k, v in response.headers.items() if k.lower() == "retry-after"] == ["30"]
    assert unavailable_headers({"Retry-After": "1"}, 503) == {"Retry-After": "1"}
