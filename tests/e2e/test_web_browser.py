"""The demo web app in a real headless Chromium: login through the dev IdP, every page, placing
an order, signing out.

What the browser may hold is checked from inside the page: no cookie readable by script, no
token in web storage. One browser serves the module; each test has its own context and user.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.e2e.browser_support import WebApp, fresh_sub, open_tab, web_app

__all__ = ["open_tab", "web_app"]  # fixtures, used by name

ORDER_CALL = "orders POST /v1/orders"


def test_login_lands_back_on_the_page_that_asked_and_the_browser_holds_no_token(
    open_tab: Any, web_app: WebApp
) -> None:
    """Signed out on /orders: "Sign in" goes through the IdP's form and back to /orders. The
    session cookie is HttpOnly and SameSite=Strict; script sees no cookie and storage is empty.
    The header's name (ID token) and the greeting's (accounts) are the same person's."""
    tab = open_tab()
    tab.log_in("alice", from_path="/orders")
    page = tab.page

    page.get_by_role("heading", name="Your orders").wait_for()
    assert page.evaluate("document.cookie") == ""
    storage = page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert storage == "[[],[]]"
    cookies = {cookie["name"]: cookie for cookie in tab.context.cookies(web_app.url)}
    assert cookies["bff"]["httpOnly"] is True
    assert cookies["bff"]["sameSite"] == "Strict"

    page.get_by_role("link", name="Home").click()
    page.get_by_role("heading", name="Welcome back, Alice Example").wait_for()
    assert page.locator("#user-name").text_content() == "Alice Example"
    tab.assert_clean()


def test_every_page_renders_with_no_console_error_and_no_broken_image(
    open_tab: Any, web_app: WebApp
) -> None:
    """Home, a product (from a recommendation), the order history with "load more", and the
    devices page; back and forward move between them without a reload."""
    tab = open_tab()
    tab.log_in("alice")
    page = tab.page

    page.get_by_role("heading", name="Recommended for you").wait_for()
    assert page.locator("#recommendations li").count() == 8
    assert page.locator("#recent-orders li").count() == 3
    tab.assert_clean()
    page.evaluate("window.loadedOnce = true")  # gone if a navigation reloads the document

    first_card = page.locator("#recommendations li a").first
    title = first_card.locator(".card-title").text_content()
    first_card.click()
    page.wait_for_url(re.compile(r"/products/\d+$"))
    page.get_by_role("heading", name=title).wait_for()
    page.get_by_role("button", name="Place order").wait_for()
    assert page.locator("#related li").count() > 0
    image = page.get_by_role("img", name=title).first
    assert "320w" in (image.get_attribute("srcset") or "")
    tab.assert_clean()

    page.get_by_role("link", name="Orders").click()
    page.get_by_role("heading", name="Your orders").wait_for()
    assert page.locator("#order-list > li").count() == 10
    page.get_by_role("button", name="Load more").click()
    page.wait_for_function("() => document.querySelectorAll('#order-list > li').length > 10")
    tab.assert_clean()

    page.get_by_role("link", name="Your devices").click()
    page.get_by_role("heading", name="Your devices").wait_for()
    device = page.locator("#device-list li").first
    assert "Chrome on Linux" in (device.text_content() or "")
    assert "This device" in (device.text_content() or "")
    tab.assert_clean()

    page.go_back()
    page.get_by_role("heading", name="Your orders").wait_for()
    page.go_back()
    page.get_by_role("heading", name=title).wait_for()
    page.go_forward()
    page.get_by_role("heading", name="Your orders").wait_for()
    assert page.evaluate("window.loadedOnce") is True
    tab.assert_clean()


def test_a_double_click_on_place_order_orders_once(
    open_tab: Any, web_app: WebApp, core_stubs: str
) -> None:
    """Two clicks in a row on "Place order" make one call to the orders service, and the
    history has exactly one new order."""
    tab = open_tab()
    sub = fresh_sub("dora")
    tab.log_in(sub, from_path="/products/42")
    page = tab.page
    page.get_by_role("heading", name=re.compile(".")).first.wait_for()
    page.get_by_label("Quantity").fill("2")
    httpx.delete(f"{core_stubs}/_stats").raise_for_status()

    page.get_by_role("button", name="Place order").dblclick()
    page.get_by_text("Thank you, your order is placed.").wait_for()

    calls = httpx.get(f"{core_stubs}/_stats").json()["calls"]
    assert calls.get(ORDER_CALL) == 1
    placed_id = page.locator("#order-result .order-id").text_content()
    page.get_by_role("link", name="See your orders").click()
    first_order = page.locator("#order-list > li").first
    first_order.wait_for()
    assert first_order.locator(".order-id").text_content() == placed_id
    assert page.locator("#order-list .order-id", has_text=placed_id or "-").count() == 1
    tab.assert_clean()


def test_sign_out_shows_the_signed_out_page_and_back_shows_no_private_data(
    open_tab: Any, web_app: WebApp
) -> None:
    """After "Sign out" the app says so; the back button brings no order, name or greeting back,
    and the session is gone at the gateway too."""
    tab = open_tab()
    tab.log_in("alice", from_path="/orders")
    page = tab.page
    order_id = page.locator("#order-list .order-id").first.text_content() or ""
    assert order_id.startswith("Order ")

    tab.expected.append("status of 401")
    page.get_by_role("link", name="Sign out").click()
    page.wait_for_url(f"{web_app.url}/")
    page.get_by_role("heading", name="You are signed out").wait_for()

    page.go_back()
    page.wait_for_url(f"{web_app.url}/orders")
    page.get_by_role("heading", name="You are signed out").wait_for()
    body = page.locator("body").text_content() or ""
    assert order_id not in body
    assert "Alice Example" not in body
    assert "Welcome back" not in body
    assert page.locator("#site-nav").is_hidden()
    status = page.evaluate(
        "fetch('/bff/user', {headers: {'X-CSRF': '1'}}).then((response) => response.status)"
    )
    assert status == 401
    tab.assert_clean()
