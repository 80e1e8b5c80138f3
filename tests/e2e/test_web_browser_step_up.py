"""Support staff in the demo app, in a real headless Chromium: the app follows a step-up answer
through a fresh login at the dev IdP and comes back to the same page, then ends a user's
sessions."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import StartGateway, log_in_browser
from tests.fixtures.idp import IdpServer

CSRF = {"X-CSRF": "1"}


def log_in_at_idp(page: Any, idp_url: str, sub: str) -> dict[str, list[str]]:
    """Submit the IdP's form for ``sub``; returns what the gateway asked the IdP for."""
    page.wait_for_url(f"{idp_url}/**")
    asked = parse_qs(urlsplit(page.url).query)
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    return asked


def test_the_app_follows_a_step_up_and_support_ends_a_users_sessions(
    module_browser: Any, idp: IdpServer, core_stubs: str, start_gateway: StartGateway
) -> None:
    clock = FakeClock()
    web = start_gateway("web", idp_url=idp.url, stubs_url=core_stubs, clock=clock)
    with httpx.Client(timeout=10) as alice:
        log_in_browser(alice, web.url, sub="alice")
        alice_cookie = alice.cookies["bff"]

    context = module_browser.new_context()
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    try:
        page.goto(f"{web.url}/support/alice")
        page.locator("main").get_by_role("link", name="Sign in").click()
        log_in_at_idp(page, idp.url, "support")
        page.wait_for_url(f"{web.url}/support/alice")
        page.get_by_text("1 session(s) of alice").wait_for()

        clock.advance(601)  # the support login is now too old for the admin routes
        page.reload()
        asked = log_in_at_idp(page, idp.url, "support")
        assert (asked["prompt"], asked["max_age"]) == (["login"], ["600"])
        page.wait_for_url(f"{web.url}/support/alice")
        page.get_by_text("1 session(s) of alice").wait_for()

        page.get_by_role("button", name="End all sessions").click()
        page.get_by_text("Ended 1 session(s) of alice").wait_for()
    finally:
        context.close()
    assert page_errors == []
    gone = httpx.get(f"{web.url}/bff/user", headers=CSRF, cookies={"bff": alice_cookie})
    assert gone.status_code == 401
