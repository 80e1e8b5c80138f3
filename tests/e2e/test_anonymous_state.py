"""Nothing an anonymous caller does grows Redis: login starts and callbacks without a code.

Both gateways on one real Redis, the dev IdP, and an attacker's client over real sockets; the
key count (DBSIZE) is what is compared.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import redis

from tests.bff_mobile.test_auth_flow import AppLogin
from tests.fixtures.gateways import StartGateway
from tests.fixtures.idp import IdpServer

AUTHORIZE_STARTS = 1_000
STATE_ONLY_CALLBACKS = 300
ALLOWED_GROWTH = 3


def _state_of(start: httpx.Response) -> str:
    assert start.status_code == 302, start.text
    return parse_qs(urlsplit(start.headers["location"]).query)["state"][0]


def test_anonymous_login_starts_and_state_only_callbacks_leave_no_keys(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str
) -> None:
    """1,000 ``/auth/authorize`` starts and 300 ``/bff/login`` + ``/bff/callback?state=`` pairs
    (and as many on the mobile callback) change the Redis key count by a small constant at
    most: pending logins live in the browser's sealed cookie, and a state is remembered as used
    only once a code was redeemed."""
    web = start_gateway("web", idp_url=idp.url, redis_url=redis_url)
    mobile = start_gateway("mobile", idp_url=idp.url, redis_url=redis_url)
    store = redis.Redis.from_url(redis_url)
    before = store.dbsize()
    app = AppLogin()
    with httpx.Client(timeout=10) as attacker:
        for _ in range(AUTHORIZE_STARTS):
            start = attacker.get(f"{mobile.url}/auth/authorize", params=app.authorize_params())
            assert start.status_code == 302
        for _ in range(STATE_ONLY_CALLBACKS):
            state = _state_of(attacker.get(f"{web.url}/bff/login"))
            callback = attacker.get(f"{web.url}/bff/callback", params={"state": state})
            assert callback.status_code == 400
        for _ in range(STATE_ONLY_CALLBACKS):
            start = attacker.get(f"{mobile.url}/auth/authorize", params=app.authorize_params())
            callback = attacker.get(
                f"{mobile.url}/auth/callback", params={"state": _state_of(start)}
            )
            assert callback.status_code == 302  # to the app, with error=server_error
            assert "code=" not in callback.headers["location"]
        login_cookies = [c for c in attacker.cookies.jar if c.name.endswith("login")]
    growth = store.dbsize() - before
    store.close()
    assert growth <= ALLOWED_GROWTH, f"{growth} keys were added by anonymous requests"
    assert all(len(cookie.value or "") < 4_000 for cookie in login_cookies)
