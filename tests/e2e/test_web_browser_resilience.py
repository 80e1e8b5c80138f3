"""The demo web app when things go wrong, in a real headless Chromium: a missing section says so
in place, a failed screen shows the problem's title and trace id, and a session ended from
another device is over there at once."""

from __future__ import annotations

from typing import Any

import httpx

from tests.bff_mobile.test_auth_flow import AppLogin, get_code, get_me
from tests.e2e.browser_support import (
    PHONE,
    PHONE_USER_AGENT,
    WebApp,
    fresh_sub,
    open_tab,
    web_app,
)
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import StartGateway
from tests.fixtures.idp import IdpServer

__all__ = ["open_tab", "web_app"]  # fixtures, used by name

ALWAYS_FAIL = {"errorRate": 1.0, "status": 503}
APP_USER_AGENT = "ShopApp/3.2.0 (Android 14; Pixel 8)"
#: The session's state as the gateway sees it, asked without extending it.
USER_STATUS = """() => fetch("/bff/user?slide=false", {headers: {"X-CSRF": "1"}})
    .then((response) => response.status)"""


def test_broken_recommendations_show_a_notice_and_the_rest_works(
    open_tab: Any, web_app: WebApp, core_stubs: str
) -> None:
    httpx.put(f"{core_stubs}/_chaos/recommendations", json=ALWAYS_FAIL).raise_for_status()
    tab = open_tab()
    tab.log_in(fresh_sub("rita"))
    page = tab.page

    recommendations = page.locator("#recommendations")
    recommendations.get_by_text("Recommendations are not available right now.").wait_for()
    assert recommendations.locator("li").count() == 0
    page.get_by_role("heading", name="Welcome back,").wait_for()
    assert page.locator("#recent-orders li").count() > 0
    tab.assert_clean()

    page.locator("#recent-orders a", has_text="All orders").click()
    page.get_by_role("heading", name="Your orders").wait_for()
    page.locator("#order-list .order-lines a").first.click()
    page.get_by_role("button", name="Place order").wait_for()
    tab.assert_clean()


def test_a_failed_required_part_shows_the_problem_title_and_trace_id(
    open_tab: Any, start_gateway: StartGateway, idp_server: IdpServer, core_stubs: str
) -> None:
    """Accounts failing makes the home screen a 503 problem: the page shows its title and the
    trace id the gateway put in it. (A gateway of its own: its breaker opens on the failures.)"""
    web = start_gateway("web", idp_url=idp_server.url, stubs_url=core_stubs)
    tab = open_tab()
    tab.app = WebApp(web, idp_server, core_stubs)
    tab.log_in(fresh_sub("fay"), from_path="/devices")
    httpx.put(f"{core_stubs}/_chaos/accounts", json=ALWAYS_FAIL).raise_for_status()
    tab.expected.append("status of 503")
    page = tab.page

    with page.expect_response(f"{web.url}/api/home") as answer:
        page.get_by_role("link", name="Home").click()
    problem = answer.value.json()
    assert answer.value.status == 503
    assert problem["traceId"]

    alert = page.get_by_role("alert")
    alert.get_by_text(problem["title"], exact=True).wait_for()
    assert alert.locator("code").text_content() == problem["traceId"]
    assert "Welcome back" not in (page.locator("main").text_content() or "")

    httpx.delete(f"{core_stubs}/_chaos").raise_for_status()
    page.get_by_role("link", name="Your devices").click()
    page.get_by_role("heading", name="Your devices").wait_for()
    tab.assert_clean()


def test_an_unknown_product_says_not_found_with_its_trace_id(
    open_tab: Any, web_app: WebApp
) -> None:
    tab = open_tab()
    tab.log_in(fresh_sub("nia"))
    tab.expected.append("status of 404")
    with tab.page.expect_response(f"{web_app.url}/api/products/999999") as answer:
        tab.goto("/products/999999")
    problem = answer.value.json()
    tab.page.get_by_role("heading", name="Not found").wait_for()
    alert = tab.page.get_by_role("alert")
    alert.get_by_text(problem["title"], exact=True).wait_for()
    assert alert.locator("code").text_content() == problem["traceId"]
    tab.assert_clean()


def test_ending_the_other_devices_session_signs_it_out(open_tab: Any, web_app: WebApp) -> None:
    """A phone and a desktop, one user: from the desktop's "Your devices", end the phone's
    session; the phone's next step finds its session over and offers to sign in again."""
    sub = fresh_sub("dev")
    phone = open_tab(viewport=PHONE, user_agent=PHONE_USER_AGENT, is_mobile=True, has_touch=True)
    phone.log_in(sub)
    desktop = open_tab()
    desktop.log_in(sub, from_path="/devices")
    page = desktop.page

    devices = page.locator("#device-list > li")
    devices.nth(1).wait_for()
    assert devices.count() == 2
    assert "This device" in (devices.first.text_content() or "")
    assert "Chrome on Linux" in (devices.first.text_content() or "")
    page.get_by_role("button", name="End the session on Safari on iPhone").click()
    page.locator("#device-list").get_by_text("Signed out").wait_for()
    desktop.assert_clean()

    phone.expected.append("status of 401")
    phone.page.get_by_role("link", name="Orders", exact=True).click()
    phone.page.get_by_text("Your session has ended.").wait_for()
    phone.page.get_by_role("heading", name="You are signed out").wait_for()
    assert "Welcome back" not in (phone.page.locator("main").text_content() or "")
    phone.assert_clean()


def test_an_apps_session_shows_in_your_devices_and_ends_there(
    open_tab: Any, web_app: WebApp, start_gateway: StartGateway, redis_server_url: str
) -> None:
    """The same user signed in on the phone app (through the mobile gateway, on the same Redis)
    is listed in the web's "Your devices" by the app's name; ending it there refuses the app's
    very next call."""
    sub = fresh_sub("app")
    mobile = start_gateway(
        "mobile", idp_url=web_app.idp.url, stubs_url=web_app.stubs_url, redis_url=redis_server_url
    )
    app = AppLogin()
    tokens = httpx.post(
        f"{mobile.url}/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": get_code(mobile.url, app, sub=sub),
            "code_verifier": app.verifier,
        },
        headers={"User-Agent": APP_USER_AGENT},
    ).json()
    assert get_me(mobile.url, tokens["access_token"]).status_code == 200

    desktop = open_tab()
    desktop.log_in(sub, from_path="/devices")
    page = desktop.page
    devices = page.locator("#device-list > li")
    devices.nth(1).wait_for()
    assert devices.count() == 2
    assert "ShopApp 3.2.0 on Android" in (devices.nth(1).text_content() or "")
    page.get_by_role("button", name="End the session on ShopApp 3.2.0 on Android").click()
    page.locator("#device-list").get_by_text("Signed out").wait_for()
    desktop.assert_clean()

    assert get_me(mobile.url, tokens["access_token"]).status_code == 401


def test_device_names_are_browser_and_system(open_tab: Any, web_app: WebApp) -> None:
    """The app's own module names devices from their user agents, web and mobile."""
    tab = open_tab()
    tab.expected.append("status of 401")  # signed out: the module is all this test needs
    tab.goto("/devices")
    names = tab.page.evaluate(
        """async (agents) => {
            const { deviceName } = await import("/assets/js/devices.js");
            return agents.map(([agent, kind]) => deviceName(agent, kind));
        }""",
        [
            [PHONE_USER_AGENT, "web"],
            [
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/124.0 Safari/537.36 Edg/124.0",
                "web",
            ],
            ["Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko Firefox/125.0", "web"],
            ["ShopApp/3.2.0 (Android 14; Pixel 8)", "mobile"],
            [None, "mobile"],
            [None, "web"],
        ],
    )
    assert names == [
        "Safari on iPhone",
        "Edge on Windows",
        "Firefox on macOS",
        "ShopApp 3.2.0 on Android",
        "Shop app",
        "Unknown browser",
    ]


def test_a_session_about_to_expire_is_extended_by_activity_or_ends_cleanly(
    open_tab: Any, start_gateway: StartGateway, idp_server: IdpServer, core_stubs: str
) -> None:
    """The gateway's clock and the page's clock move together, by the test only. Idle close to
    the timeout: a warning; "Stay signed in" (activity) extends the session past its first end;
    a key press extends it again on the next check; then, idle past the timeout, the app clears
    the page and offers to sign in again."""
    clock = FakeClock()
    web = start_gateway(
        "web", idp_url=idp_server.url, stubs_url=core_stubs, clock=clock,
        BFF_SESSION_IDLE_TIMEOUT="300",
    )  # fmt: skip
    tab = open_tab()
    tab.app = WebApp(web, idp_server, core_stubs)
    page = tab.page
    page.clock.install()
    tab.log_in(fresh_sub("ivy"), from_path="/orders")
    page.get_by_role("heading", name="Your orders").wait_for()

    def idle_for(seconds: int) -> None:
        clock.advance(seconds)
        page.clock.fast_forward(seconds * 1000)

    def session_status() -> int:
        return int(page.evaluate(USER_STATUS))

    idle_for(250)
    notice = page.locator("#session-notice")
    notice.get_by_text("You will be signed out in about 50 seconds").wait_for()
    notice.get_by_role("button", name="Stay signed in").click()
    notice.wait_for(state="hidden")
    idle_for(100)  # 350 s after login: past the first end
    assert session_status() == 200

    page.keyboard.press("Tab")
    with page.expect_request(f"{web.url}/bff/user"):
        idle_for(70)
    assert session_status() == 200
    assert notice.is_hidden()

    tab.expected.append("status of 401")
    idle_for(400)
    notice.get_by_text("Your session has ended.").wait_for()
    page.get_by_role("heading", name="You are signed out").wait_for()
    assert page.locator("#order-list").count() == 0
    assert page.locator("main").get_by_role("link", name="Sign in").get_attribute("href") == (
        "/bff/login?returnUrl=%2Forders"
    )
    tab.assert_clean()
