"""Access tokens are refreshed before they expire, exactly once however many requests race,
across instances too; a refused refresh ends the session without a loop."""

from __future__ import annotations

import concurrent.futures

import httpx

from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import StartGateway, log_in_browser, stored_tokens
from tests.fixtures.idp import StartIdp

CSRF = {"X-CSRF": "1"}
TOKEN_LIFETIME_S = 4  # refreshed in its last 2 s: the skew is capped at half the lifetime


def test_twenty_parallel_requests_over_two_instances_refresh_exactly_once(
    start_idp: StartIdp, core_stubs: str, start_gateway: StartGateway, redis_url: str
) -> None:
    idp = start_idp(token_max_age=TOKEN_LIFETIME_S)
    clock = FakeClock()
    gateways = [
        start_gateway(
            "web", idp_url=idp.url, stubs_url=core_stubs, redis_url=redis_url, clock=clock
        )
        for _ in range(2)
    ]
    with httpx.Client(headers=CSRF, timeout=20) as browser:
        log_in_browser(browser, gateways[0].url)
        cookies = dict(browser.cookies)
    assert (
        httpx.get(f"{gateways[1].url}/api/home", headers=CSRF, cookies=cookies).status_code == 200
    )
    idp.reset_stats()
    clock.advance(TOKEN_LIFETIME_S / 2 + 0.3)  # now inside the refresh window

    def fetch(n: int) -> int:
        base = gateways[n % 2].url
        return httpx.get(f"{base}/api/home", headers=CSRF, cookies=cookies, timeout=30).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(fetch, range(20)))
    assert statuses == [200] * 20
    assert idp.stats()["token_requests"]["refresh_token"] == 1


def test_a_revoked_refresh_token_ends_the_session_with_one_401(
    start_idp: StartIdp, core_stubs: str, start_gateway: StartGateway, redis_url: str
) -> None:
    idp = start_idp(token_max_age=TOKEN_LIFETIME_S)
    clock = FakeClock()
    web = start_gateway(
        "web", idp_url=idp.url, stubs_url=core_stubs, redis_url=redis_url, clock=clock
    )
    with httpx.Client(base_url=web.url, headers=CSRF, timeout=20) as browser:
        log_in_browser(browser, web.url)
        # The IdP forgets every grant of the user, as an admin's "sign out everywhere" would.
        tokens = stored_tokens(redis_url, "alice")
        revoke = httpx.post(
            f"{idp.url}/oauth2/revoke",
            data={"token": tokens.refresh_token, "token_type_hint": "refresh_token"},
            auth=("bff-web", "dev-secret-bff-web"),
        )
        assert revoke.status_code == 200
        idp.reset_stats()
        clock.advance(TOKEN_LIFETIME_S / 2 + 0.3)
        first = browser.get("/api/home")
        second = browser.get("/api/home")
        user = browser.get("/bff/user")
    assert first.status_code == 401
    assert first.headers["content-type"].startswith("application/problem+json")
    assert second.status_code == 401
    assert user.status_code == 401
    assert idp.stats()["token_requests"]["refresh_token"] == 1
