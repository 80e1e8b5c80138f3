"""What the caller got wrong is the caller's 4xx, and one user's input never reaches another's
data: a cursor the orders service refuses, an Idempotency-Key another user chose."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.fixtures.gateways import RunningGateway, StartGateway, log_in_browser
from tests.fixtures.idp import IdpServer

CSRF = {"X-CSRF": "1"}


@pytest.fixture
def web(idp: IdpServer, core_stubs: str, start_gateway: StartGateway) -> RunningGateway:
    return start_gateway("web", idp_url=idp.url, stubs_url=core_stubs)


@contextmanager
def browser_of(web: RunningGateway, sub: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, headers=CSRF, timeout=20) as client:
        log_in_browser(client, web.url, sub=sub)
        yield client


@pytest.fixture
def alice(web: RunningGateway) -> Iterator[httpx.Client]:
    with browser_of(web, "alice") as client:
        yield client


@pytest.fixture
def bob(web: RunningGateway) -> Iterator[httpx.Client]:
    with browser_of(web, "bob") as client:
        yield client


def test_a_cursor_the_orders_service_refuses_is_the_callers_400(alice: httpx.Client) -> None:
    """Once a 502 ``core-rejected``; and, as any 4xx, never a breaker failure: after more bad
    cursors than the breaker's threshold, the history still loads."""
    for _ in range(8):
        response = alice.get("/api/orders", params={"cursor": "not-a-cursor"})
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == "/problems/bad-request"
        assert "cursor" in response.json()["detail"]
    assert alice.get("/api/orders").status_code == 200


def test_an_idempotency_key_is_scoped_to_its_user(alice: httpx.Client, bob: httpx.Client) -> None:
    """Bob reusing the key Alice chose gets neither a 409 (which would tell him it exists) nor
    her order: he gets his own. Alice's retry still gets hers."""
    key = {"Idempotency-Key": "shared-key-0001"}
    hers = alice.post(
        "/api/orders", json={"lines": [{"productId": "3", "quantity": 1}]}, headers=key
    )
    assert hers.status_code == 201, hers.text
    his = bob.post("/api/orders", json={"lines": [{"productId": "4", "quantity": 2}]}, headers=key)
    assert his.status_code == 201, his.text
    assert his.json()["id"] != hers.json()["id"]
    assert [line["productId"] for line in his.json()["lines"]] == ["4"]
    again = alice.post(
        "/api/orders", json={"lines": [{"productId": "3", "quantity": 1}]}, headers=key
    )
    assert again.json()["id"] == hers.json()["id"]
    assert bob.get("/api/orders").json()["items"][0]["id"] == his.json()["id"]
