"""Attacks a page on another site can make on the web gateway, in a real headless Chromium.

The attacker's page is served by the browser itself (``BrowserContext.route`` on a made-up
origin), so every navigation it starts is a genuine cross-site one: the browser decides which
cookies ride along and which ``Set-Cookie`` it keeps, exactly as for a victim.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shared.identity.login_cookie import LOGIN_COOKIE_MAX_BYTES
from tests.e2e.browser_support import Tab, WebApp, fresh_sub, open_tab, web_app

__all__ = ["open_tab", "web_app"]  # fixtures, used by name

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
    open_tab: Any, web_app: WebApp
) -> None:
    """Another site sends the browser to ``/bff/login`` with a return URL of 1,400 ``é`` (refused:
    over 512 bytes encoded) and six times with the longest allowed one; then the victim plants
    nothing that outgrows a cookie, and the next login succeeds. A planted, oversized login
    cookie does not block it either."""
    tab: Tab = open_tab()
    context, page = tab.context, tab.page
    login = f"{web_app.url}/bff/login?returnUrl="
    links = {"bomb": login + quote("/" + "é" * 1_400)}
    links |= {f"long{i}": login + quote(LONGEST_RETURN_URL) for i in range(6)}
    _serve_attacker_page(context, links)
    victim = fresh_sub("victim")

    bomb = _follow_attacker_link(page, "bomb")
    for i in range(6):
        _follow_attacker_link(page, f"long{i}")
        page.wait_for_url(f"{web_app.idp.url}/**")

    tab.log_in(victim)

    assert bomb.status == 400
    for cookie in context.cookies(web_app.url):
        assert len(cookie["name"]) + len(cookie["value"]) < BROWSER_COOKIE_LIMIT
        if cookie["name"] == "bff-login":
            assert len(cookie["value"]) <= LOGIN_COOKIE_MAX_BYTES

    context.clear_cookies()
    context.add_cookies([{"name": "bff-login", "value": "x" * 4_000, "url": web_app.url}])
    tab.log_in(victim)


def test_a_cross_site_logout_link_logs_nobody_out(open_tab: Any, web_app: WebApp) -> None:
    """Another site navigating to ``/bff/logout`` (the SameSite=Strict cookie stays home) gets
    a redirect that touches no cookie: the victim stays logged in, on the server and in the
    browser."""
    tab: Tab = open_tab()
    context, page = tab.context, tab.page
    _serve_attacker_page(context, {"logout": f"{web_app.url}/bff/logout"})
    tab.log_in(fresh_sub("victim"))
    session_cookie = next(c for c in context.cookies(web_app.url) if c["name"] == "bff")

    _follow_attacker_link(page, "logout")

    cookies = {c["name"]: c["value"] for c in context.cookies(web_app.url)}
    assert cookies.get("bff") == session_cookie["value"]
    tab.goto("/")
    page.get_by_role("link", name="Sign out").wait_for()  # still signed in
