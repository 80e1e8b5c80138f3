"""``BFF_SESSION_MAX_PER_USER``: logging in again and again does not pile up sessions; past
the cap the user's oldest session ends, on the web and in the app alike."""

from __future__ import annotations

import httpx

from tests.bff_mobile.test_auth_flow import get_me, log_in_app
from tests.fixtures.gateways import StartGateway, log_in_browser
from tests.fixtures.idp import IdpServer

CSRF = {"X-CSRF": "1"}


def test_past_the_cap_the_oldest_session_ends(
    idp: IdpServer, redis_url: str, start_gateway: StartGateway
) -> None:
    web = start_gateway("web", idp_url=idp.url, redis_url=redis_url, BFF_SESSION_MAX_PER_USER="2")
    mobile = start_gateway(
        "mobile", idp_url=idp.url, redis_url=redis_url, BFF_SESSION_MAX_PER_USER="2"
    )
    browsers = [httpx.Client(base_url=web.url, headers=CSRF, timeout=20) for _ in range(3)]
    try:
        for browser in browsers[:2]:
            assert log_in_browser(browser, web.url, sub="carol").status_code == 302
        assert [b.get("/bff/user").status_code for b in browsers[:2]] == [200, 200]
        assert log_in_browser(browsers[2], web.url, sub="carol").status_code == 302
        assert [b.get("/bff/user").status_code for b in browsers] == [401, 200, 200]
        assert len(browsers[2].get("/bff/sessions").json()) == 2

        app = log_in_app(mobile.url, sub="carol")  # a third device: the oldest web one goes
        assert get_me(mobile.url, app["access_token"]).status_code == 200
        assert [b.get("/bff/user").status_code for b in browsers] == [401, 401, 200]
        assert log_in_browser(browsers[0], web.url, sub="dave").status_code == 302
        assert browsers[0].get("/bff/user").status_code == 200  # other users are not counted
        assert get_me(mobile.url, app["access_token"]).status_code == 200
    finally:
        for browser in browsers:
            browser.close()
