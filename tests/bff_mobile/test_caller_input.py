"""The app's input errors are its own 400s: a refused cursor, a doubled version header."""

from __future__ import annotations

import httpx
import pytest

from tests.bff_mobile.test_auth_flow import APP_VERSION, log_in_app
from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IdpServer


@pytest.fixture
def mobile(idp: IdpServer, core_stubs: str, start_gateway: StartGateway) -> RunningGateway:
    return start_gateway("mobile", idp_url=idp.url, stubs_url=core_stubs)


def test_a_cursor_the_orders_service_refuses_is_the_apps_400(mobile: RunningGateway) -> None:
    tokens = log_in_app(mobile.url)
    headers = {"Authorization": f"Bearer {tokens['access_token']}", **APP_VERSION}
    response = httpx.get(
        f"{mobile.url}/m/v1/orders", params={"cursor": "not-a-cursor"}, headers=headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "/problems/bad-request"


def test_a_doubled_app_version_header_is_a_400(mobile: RunningGateway) -> None:
    """Two X-App-Version lines (an old one the gate would refuse after a new one it accepts)
    are refused, whichever order they come in; one line passes."""
    tokens = log_in_app(mobile.url)
    bearer = ("Authorization", f"Bearer {tokens['access_token']}")
    for versions in (("1.0.0", "0.0.1"), ("0.0.1", "1.0.0"), ("1.0.0", "1.0.0")):
        headers = [bearer, *(("X-App-Version", version) for version in versions)]
        response = httpx.get(f"{mobile.url}/m/v1/me", headers=headers)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "once" in response.json()["detail"]
    assert (
        httpx.get(f"{mobile.url}/m/v1/me", headers=[bearer, ("X-App-Version", "1.0.0")]).status_code
        == 200
    )
