"""The mobile gateway's own IdP client with PAR and ``private_key_jwt``: the app's login, a
refresh and a logout with revocation each authenticate with the gateway's key; a key the IdP
does not know is a clean OAuth error for the app."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.bff_mobile.test_auth_flow import AppLogin, app_redirect_query, redeem_code, refresh
from tests.fixtures.client_keys import KeyKind, start_key_client, write_private_key
from tests.fixtures.gateways import StartGateway
from tests.fixtures.idp import StartIdp


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_app_login_refresh_and_logout_with_par_and_private_key_jwt(
    start_idp: StartIdp, start_gateway: StartGateway, tmp_path: Path, kind: KeyKind
) -> None:
    setup = start_key_client(
        start_idp, start_gateway, "mobile", write_private_key(tmp_path, kind), require_par=True
    )
    mobile, idp = setup.gateway, setup.idp
    app = AppLogin()
    with httpx.Client(timeout=20) as browser:
        start = browser.get(f"{mobile.url}/auth/authorize", params=app.authorize_params())
        assert start.status_code == 302, start.text
        assert set(parse_qs(urlsplit(start.headers["location"]).query)) == {
            "client_id",
            "request_uri",
        }
        consent = browser.post(start.headers["location"], data={"sub": "alice"})
        assert consent.status_code == 302, consent.text
        code = app_redirect_query(browser.get(consent.headers["location"]), app)["code"]
    issued = redeem_code(mobile.url, code, app.verifier, redirect_uri=app.redirect_uri)
    assert issued.status_code == 200, issued.text
    assert idp.stats()["client_assertions"] == 2  # the pushed request and the code

    idp.reset_stats()
    renewed = refresh(mobile.url, issued.json()["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    # An app's refresh renews the IdP tokens too, with the gateway's key.
    assert idp.stats()["client_assertions"] == idp.stats()["token_requests"]["refresh_token"]

    idp.reset_stats()
    logout = httpx.post(
        f"{mobile.url}/auth/logout",
        headers={"Authorization": f"Bearer {renewed.json()['access_token']}"},
    )
    assert logout.status_code == 204
    assert idp.stats()["revocations"] == 1
    assert idp.stats()["client_assertions"] == 1


def test_an_unknown_key_is_a_clean_oauth_error_for_the_app(
    start_idp: StartIdp, start_gateway: StartGateway, tmp_path: Path
) -> None:
    genuine = start_key_client(
        start_idp, start_gateway, "mobile", write_private_key(tmp_path, "ec")
    )
    impostor = start_gateway(
        "mobile",
        idp_url=genuine.idp.url,
        BFF_OIDC_CLIENT_AUTH="private_key_jwt",
        BFF_OIDC_CLIENT_KEY_FILE=str(write_private_key(tmp_path, "rsa", "other.pem")),
    )
    response = httpx.get(f"{impostor.url}/auth/authorize", params=AppLogin().authorize_params())
    assert response.status_code == 503
    assert "Traceback" not in response.text
    assert "invalid_client" not in response.text
