"""The app's session when the gateway's own IdP tokens need refreshing."""

from __future__ import annotations

import httpx

from tests.bff_mobile.test_auth_flow import APP_VERSION, log_in_app
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import StartGateway, stored_tokens
from tests.fixtures.idp import StartIdp

TOKEN_LIFETIME_S = 4


def test_an_idp_refused_refresh_is_a_401_with_the_invalid_token_challenge(
    start_idp: StartIdp, core_stubs: str, start_gateway: StartGateway, redis_url: str
) -> None:
    """The IdP no longer honours the session's refresh token: the app's next screen is a 401
    telling its OAuth library the token is dead (``Bearer error="invalid_token"``), and the
    session has ended."""
    idp = start_idp(token_max_age=TOKEN_LIFETIME_S)
    clock = FakeClock()
    mobile = start_gateway(
        "mobile", idp_url=idp.url, stubs_url=core_stubs, redis_url=redis_url, clock=clock
    )
    tokens = log_in_app(mobile.url)
    headers = {"Authorization": f"Bearer {tokens['access_token']}", **APP_VERSION}
    assert httpx.get(f"{mobile.url}/m/v1/home", headers=headers).status_code == 200
    revoke = httpx.post(
        f"{idp.url}/oauth2/revoke",
        data={
            "token": stored_tokens(redis_url, "alice").refresh_token,
            "token_type_hint": "refresh_token",
        },
        auth=("bff-mobile", "dev-secret-bff-mobile"),
    )
    assert revoke.status_code == 200
    idp.reset_stats()
    clock.advance(TOKEN_LIFETIME_S / 2 + 0.3)  # the IdP access token is due for a refresh

    refused = httpx.get(f"{mobile.url}/m/v1/home", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert idp.stats()["token_requests"]["refresh_token"] == 1
    again = httpx.get(f"{mobile.url}/m/v1/me", headers=headers)
    assert again.status_code == 401
    assert again.headers["www-authenticate"] == 'Bearer error="invalid_token"'
