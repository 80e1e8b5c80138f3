"""The mobile gateway's own IdP client with DPoP (``BFF_OIDC_DPOP``), PAR and
``private_key_jwt``: the app's login binds the IdP tokens of its session to a key of that
session, the screens call the core stubs with ``DPoP`` and a proof of it, renew the IdP tokens
when due and the app's logout revokes them, each proving the same key. (The apps' own tokens
are the gateway's opaque ones; binding those is ``BFF_MOBILE_DPOP``.)"""

from __future__ import annotations

from pathlib import Path

import httpx

from shared.identity.dpop import DpopKey
from tests.bff_mobile.test_auth_flow import (
    APP_VERSION,
    AppLogin,
    app_redirect_query,
    browser_login,
    redeem_code,
    refresh,
)
from tests.bff_web.test_dpop import proofs, stub_stats
from tests.fixtures.client_keys import start_key_client, write_private_key
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import StartGateway, stored_tokens
from tests.fixtures.idp import StartIdp

TOKEN_LIFETIME_S = 4  # refreshed in its last 2 s


def test_app_login_screen_refresh_and_logout_prove_the_session_key(
    start_idp: StartIdp,
    start_gateway: StartGateway,
    core_stubs: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    setup = start_key_client(
        start_idp,
        start_gateway,
        "mobile",
        write_private_key(tmp_path, "rsa"),
        require_par=True,
        token_max_age=TOKEN_LIFETIME_S,
        idp_options={"require_dpop": True},
        stubs_url=core_stubs,
        redis_url=redis_url,
        clock=clock,
        BFF_OIDC_DPOP="true",
    )
    mobile, idp = setup.gateway, setup.idp
    app = AppLogin()
    with httpx.Client(timeout=20) as browser:
        code = app_redirect_query(browser_login(mobile.url, browser, app), app)["code"]
    issued = redeem_code(mobile.url, code, app.verifier, redirect_uri=app.redirect_uri)
    assert issued.status_code == 200, issued.text
    assert issued.json()["token_type"] == "Bearer"  # the app's own token, not the IdP's
    tokens = stored_tokens(redis_url, "alice")
    assert tokens.token_type == "DPoP"
    jkt = DpopKey.from_pem(tokens.dpop_key).thumbprint
    assert [p["jkt"] for p in proofs(idp, "par")] == [jkt]
    assert [p["jkt"] for p in proofs(idp, "token")] == [jkt]

    app_headers = {"Authorization": f"Bearer {issued.json()['access_token']}", **APP_VERSION}
    home = httpx.get(f"{mobile.url}/m/v1/home", headers=app_headers)
    assert home.status_code == 200, home.text
    assert stub_stats(core_stubs)["lastDpopJkt"]["accounts"] == jkt

    idp.reset_stats()
    clock.advance(TOKEN_LIFETIME_S / 2 + 0.3)  # the IdP token is due: the screen renews it
    assert httpx.get(f"{mobile.url}/m/v1/home", headers=app_headers).status_code == 200
    assert idp.stats()["token_requests"]["refresh_token"] == 1
    assert [p["jkt"] for p in proofs(idp, "token")] == [jkt]
    assert stored_tokens(redis_url, "alice").dpop_key == tokens.dpop_key

    renewed = refresh(mobile.url, issued.json()["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    idp.reset_stats()
    logout = httpx.post(
        f"{mobile.url}/auth/logout",
        headers={"Authorization": f"Bearer {renewed.json()['access_token']}"},
    )
    assert logout.status_code == 204
    assert idp.stats()["revocations"] == 1
    assert [p["jkt"] for p in proofs(idp, "revocation")] == [jkt]
