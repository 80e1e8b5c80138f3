"""Hostile order bodies on both gateways over real sockets: never a 500, never decoded before
the caller is known, and strictly typed once it is."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import pytest
import structlog

from tests.bff_mobile.test_auth_flow import APP_VERSION, log_in_app
from tests.fixtures.gateways import StartGateway, log_in_browser
from tests.fixtures.idp import IdpServer

DEEP_NESTING = b"[" * 100_000
BAD_UTF8 = b'{"lines": [{"productId": "\xff\xfe", "quantity": 1}]}'
GOOD_ORDER = {"lines": [{"productId": "3", "quantity": 1}]}
JSON_TYPE = {"Content-Type": "application/json"}


@dataclass
class OrderDoor:
    """One gateway's ``POST .../orders``, for an anonymous caller and for alice."""

    url: str
    anonymous_headers: dict[str, str]
    alice: httpx.Client

    def anonymous(self, body: bytes) -> httpx.Response:
        headers = {**self.anonymous_headers, **JSON_TYPE, "Idempotency-Key": "hostile-key-01"}
        return httpx.post(self.url, content=body, headers=headers, timeout=20)

    def signed_in(self, body: bytes, **headers: str) -> httpx.Response:
        headers = {**JSON_TYPE, "Idempotency-Key": "hostile-key-02", **headers}
        return self.alice.post(self.url, content=body, headers=headers)


@pytest.fixture(params=["web", "mobile"])
def door(
    request: pytest.FixtureRequest, idp: IdpServer, core_stubs: str, start_gateway: StartGateway
) -> Iterator[OrderDoor]:
    gateway = start_gateway(request.param, idp_url=idp.url, stubs_url=core_stubs)
    if request.param == "web":
        csrf = {"X-CSRF": "1"}
        with httpx.Client(headers=csrf, timeout=20) as alice:
            log_in_browser(alice, gateway.url)
            yield OrderDoor(f"{gateway.url}/api/orders", csrf, alice)
        return
    tokens = log_in_app(gateway.url)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}", **APP_VERSION}
    with httpx.Client(headers=bearer, timeout=20) as alice:
        yield OrderDoor(f"{gateway.url}/m/v1/orders", APP_VERSION, alice)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = msgspec.json.decode(response.content)
    assert body["status"] == status
    return body


def test_an_anonymous_hostile_body_is_a_401_and_logs_no_error(door: OrderDoor) -> None:
    """100k nested ``[`` or invalid UTF-8 without a session: the session is checked first."""
    with structlog.testing.capture_logs() as logs:
        for body in (DEEP_NESTING, BAD_UTF8, b"{", msgspec.json.encode(GOOD_ORDER)):
            _problem(door.anonymous(body), 401)
    assert [entry for entry in logs if entry["log_level"] in ("error", "critical")] == []


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        pytest.param(DEEP_NESTING, {}, 413, id="100k-nesting-is-too-large"),
        pytest.param(b"[" * 10_000, {}, 400, id="deep-nesting"),
        pytest.param(
            b'{"lines": [{"productId": "3", "quantity": 1, "x": ' + b"[" * 40 + b"]" * 40 + b"}]}",
            {},
            400,
            id="nesting-in-an-ignored-field",
        ),
        pytest.param(BAD_UTF8, {}, 400, id="invalid-utf8"),
        pytest.param(b'{"lines": [', {}, 400, id="truncated"),
        pytest.param(
            msgspec.json.encode(GOOD_ORDER), {"Content-Type": "text/plain"}, 415, id="text"
        ),
        pytest.param(b'{"lines": []}' + b" " * 20_000, {}, 413, id="too-large"),
    ],
)
def test_a_signed_in_malformed_body_is_a_4xx_problem_never_a_500(
    door: OrderDoor, body: bytes, headers: dict[str, str], status: int
) -> None:
    with structlog.testing.capture_logs() as logs:
        _problem(door.signed_in(body, **headers), status)
    assert [entry for entry in logs if entry["log_level"] in ("error", "critical")] == []


@pytest.mark.parametrize("quantity", ['"5"', '"5.0"', '"1e1"', "5.0", "1e1", "true", "null"])
def test_a_quantity_that_is_not_a_json_integer_is_refused(door: OrderDoor, quantity: str) -> None:
    """Strict JSON types: a string, a float or a boolean is no quantity, whatever it spells."""
    body = b'{"lines": [{"productId": "3", "quantity": ' + quantity.encode() + b"}]}"
    problem = _problem(door.signed_in(body), 400)
    assert problem["detail"] == "The request is not valid"


def test_a_well_formed_order_still_goes_through(door: OrderDoor) -> None:
    assert door.signed_in(msgspec.json.encode(GOOD_ORDER)).status_code == 201
