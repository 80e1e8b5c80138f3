"""The X-App-Version gate in front of /m/v1/*: old apps are told to update, unversioned callers
are refused, and the auth endpoints never ask for a version."""

from __future__ import annotations

import httpx
import pytest

from tests.bff_mobile.test_auth_flow import get_code, log_in_app
from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IdpServer

MIN_VERSION = "2.3.0"
UPGRADE_URL = "https://apps.example.com/shop"


@pytest.fixture(scope="module")
def mobile(idp_server: IdpServer, start_module_gateway: StartGateway) -> RunningGateway:
    """One gateway for the module: the gate keeps no state between requests."""
    return start_module_gateway(
        "mobile",
        idp_url=idp_server.url,
        BFF_MOBILE_MIN_APP_VERSION=MIN_VERSION,
        BFF_MOBILE_UPGRADE_URL=UPGRADE_URL,
    )


def me(gateway: RunningGateway, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{gateway.url}/m/v1/me", headers=headers)


@pytest.mark.parametrize("version", ["2.2.9", "2.2", "1", "0.99.99"])
def test_an_old_app_gets_426_with_the_upgrade_url(mobile: RunningGateway, version: str) -> None:
    """Checked before the bearer token: an old app is told to update, not to log in again."""
    response = me(mobile, {"X-App-Version": version})
    assert response.status_code == 426
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/upgrade-required"
    assert body["status"] == 426
    assert body["upgradeUrl"] == UPGRADE_URL


@pytest.mark.parametrize("headers", [{}, {"X-App-Version": ""}])
def test_a_missing_version_is_a_400(mobile: RunningGateway, headers: dict[str, str]) -> None:
    response = me(mobile, headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "X-App-Version" in response.json()["detail"]


@pytest.mark.parametrize("version", ["latest", "v2.3.0", "2.3.0-beta", "2.3.0.1", "2,3,0"])
def test_a_malformed_version_is_a_400(mobile: RunningGateway, version: str) -> None:
    response = me(mobile, {"X-App-Version": version})
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/bad-request"


@pytest.mark.parametrize("version", ["2.3.0", "2.3", "2.10.0", "3"])
def test_a_current_app_passes_the_gate(mobile: RunningGateway, version: str) -> None:
    """Past the gate, the bearer check answers (401 without a token, 200 with one)."""
    assert me(mobile, {"X-App-Version": version}).status_code == 401
    tokens = log_in_app(mobile.url)
    response = me(
        mobile, {"X-App-Version": version, "Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 200
    assert response.json()["sub"] == "alice"


def test_the_login_endpoints_need_no_version(mobile: RunningGateway) -> None:
    """An app too old for the API can still log in (and is then told to update)."""
    code = get_code(mobile.url)
    assert code
    assert httpx.post(f"{mobile.url}/auth/logout").status_code == 401  # bearer, not version
