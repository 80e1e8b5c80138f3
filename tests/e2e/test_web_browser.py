"""The SPA in a real headless Chromium: log in at the dev IdP, see the home screen, log out.

What the browser may hold is checked from inside the page: no cookie readable by script, no
token in web storage.
"""

from __future__ import annotations

from typing import Any

from tests.fixtures.browser import log_in_spa
from tests.fixtures.gateways import StartGateway
from tests.fixtures.idp import IdpServer
from tests.fixtures.servers import free_port


def test_spa_login_home_and_logout_in_chromium(
    browser_engine: Any, start_idp: Any, core_stubs: str, start_gateway: StartGateway
) -> None:
    port = free_port()
    idp: IdpServer = start_idp(
        backchannel_logout_uris={"bff-web": f"http://127.0.0.1:{port}/bff/backchannel-logout"}
    )
    web = start_gateway("web", idp_url=idp.url, stubs_url=core_stubs, port=port)
    context = browser_engine.new_context()
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))

    def on_console(message: Any) -> None:
        url = message.location.get("url") or ""
        expected = "status of 401" in message.text  # /bff/user before login
        if message.type == "error" and web.url in url and not expected:
            page_errors.append(message.text)

    page.on("console", on_console)
    try:
        log_in_spa(page, web.url, idp.url)
        page.locator("#greeting").get_by_text("Welcome back,").wait_for()
        assert page.locator("#recommendations li").count() > 0
        assert page.locator("#sessions li").count() == 1

        assert page.evaluate("document.cookie") == ""
        storage = page.evaluate(
            "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
        )
        assert storage == "[[],[]]"
        cookies = {cookie["name"]: cookie for cookie in context.cookies(web.url)}
        assert cookies["bff"]["httpOnly"] is True
        assert cookies["bff"]["sameSite"] == "Strict"

        page.get_by_role("link", name="Log out").click()
        page.wait_for_url(f"{web.url}/")
        page.get_by_text("You are not logged in.").wait_for()
    finally:
        context.close()
    assert page_errors == []
