"""Attacks a page on another site can make on the web gateway, in a real headless Chromium.

The attacker's page is served by the browser itself (``BrowserContext.route`` on a made-up
origin), so every navigation it starts is a genuine cross-site one: the browser decides which
cookies ride along and which ``Set-Cookie`` it keeps, exactly as for a victim.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shared.identity.login_cookie import LOGIN_COOKIE_MAX_BYTES
from tests.fixtures.browser import log_in_spa
from tests.fixtures.gateways import StartGateway
from tests.fixtures.idp import IdpServer

ATTACKER = "http://attacker.test"
BROWSER_COOKIE_LIMIT = 4_096
LONGEST_RETURN_URL = "/" + "a" * 511  # 512 bytes: the longest a login accepts


def _serve_attacker_page(context: Any, links: dict[str, str]) -> None:
    anchors = "".join(f'<a id="{name}" href="{href}">{name}</a> ' for name, href in links.items())
    html = f"<!doctype html><html><body>{anchors}</body></html>"
    context.route(
        f"{ATTACKER}/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=html),
    )


def _follow_attacker_link(page: Any, name: str) -> Any:
    """Open the attacker's page and click one of its links: a cross-site navigation."""
    page.goto(f"{ATTACKER}/")
    with page.expect_navigation() as navigation:
        page.click(f"#{name}")
    return navigation.value


def test_a_cross_site_cookie_bomb_never_blocks_the_next_login(
    browser_engine: Any, idp: IdpServer, core_stubs: str, start_gateway: StartGateway
) -> None:
    """Another site sends the browser to ``/bff/login`` with a return URL of 1,400 ``é`` (refused:
    over 512 bytes encoded) and six times with the longest allowed one; then the victim plants
    nothing that outgrows a cookie, and the next login succeeds. A planted, oversized login
    cookie does not block it either."""
    web = start_gateway("web", idp_url=idp.url, stubs_url=core_stubs)
    context = browser_engine.new_context()
    page = context.new_page()
    login = f"{web.url}/bff/login?returnUrl="
    links = {"bomb": login + quote("/" + "é" * 1_400)}
    links |= {f"long{i}": login + quote(LONGEST_RETURN_URL) for i in range(6)}
    _serve_attacker_page(context, links)
    try:
        bomb = _follow_attacker_link(page, "bomb")
        for i in range(6):
            _follow_attacker_link(page, f"long{i}")
            page.wait_for_url(f"{idp.url}/**")

        log_in_spa(page, web.url, idp.url)

        assert bomb.status == 400
        for cookie in context.cookies(web.url):
            assert len(cookie["name"]) + len(cookie["value"]) < BROWSER_COOKIE_LIMIT
            if cookie["name"] == "bff-login":
                assert len(cookie["value"]) <= LOGIN_COOKIE_MAX_BYTES

        context.clear_cookies()
        context.add_cookies([{"name": "bff-login", "value": "x" * 4_000, "url": web.url}])
        log_in_spa(page, web.url, idp.url)
    finally:
        context.close()


def test_a_cross_site_logout_link_logs_nobody_out(
    browser_engine: Any, idp: IdpServer, core_stubs: str, start_gateway: StartGateway
) -> None:
    """Another site navigating to ``/bff/logout`` (the SameSite=Strict cookie stays home) gets
    a redirect that touches no cookie: the victim stays logged in, on the server and in the
    browser."""
    web = start_gateway("web", idp_url=idp.url, stubs_url=core_stubs)
    context = browser_engine.new_context()
    page = context.new_page()
    _serve_attacker_page(context, {"logout": f"{web.url}/bff/logout"})
    try:
        log_in_spa(page, web.url, idp.url)
        session_cookie = next(c for c in context.cookies(web.url) if c["name"] == "bff")

        _follow_attacker_link(page, "logout")

        cookies = {c["name"]: c["value"] for c in context.cookies(web.url)}
        assert cookies.get("bff") == session_cookie["value"]
        page.goto(f"{web.url}/")
        page.get_by_text("Logged in as Alice Example.").wait_for()
    finally:
        context.close()
