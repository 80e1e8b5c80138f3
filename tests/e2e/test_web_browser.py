"""The demo web app in a real headless Chromium: login through the dev IdP, every page, placing
an order, signing out.

What the browser may hold is checked from inside the page: no cookie readable by script, no
token in web storage. One browser serves the module; each test has its own context and user.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.browser_support import (
    PHONE,
    PHONE_USER_AGENT,
    Tab,
    WebApp,
    fresh_sub,
    open_tab,
    web_app,
)

__all__ = ["open_tab", "web_app"]  # fixtures, used by name

ORDER_CALL = "orders POST /v1/orders"
#: Where the README's screenshots are written when set (``docs/images``); a temporary directory
#: otherwise, so every run still takes them.
SCREENSHOT_DIR = "BFF_SCREENSHOT_DIR"
SHOWN_PRODUCT = "/products/42"


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
    assert page.get_by_role("link", name="Sign out").is_visible()
    assert page.get_by_role("link", name="Sign in").count() == 0  # hidden: not in the a11y tree
    assert page.locator("#session-notice").is_hidden()
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


def _fits_the_viewport(tab: Tab) -> bool:
    return bool(tab.page.evaluate("() => document.documentElement.scrollWidth <= innerWidth"))


def test_keyboard_users_skip_to_the_content_and_see_where_focus_is(
    open_tab: Any, web_app: WebApp
) -> None:
    """The first Tab reaches "Skip to content", drawn with a visible outline; Enter moves focus
    to the main landmark without leaving the page. Landmarks: banner, navigation, main."""
    tab = open_tab()
    tab.log_in("alice")
    page = tab.page
    page.get_by_role("heading", name="Recommended for you").wait_for()
    for landmark in ("banner", "main", "contentinfo"):
        assert page.get_by_role(landmark).count() == 1
    assert page.get_by_role("navigation", name="Main").is_visible()

    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.textContent")
    assert focused == "Skip to content"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.get_by_role("heading", name="Recommended for you").wait_for()
    tab.assert_clean()


def test_home_and_product_pages_on_a_laptop_and_a_phone(
    open_tab: Any, web_app: WebApp, tmp_path: Path
) -> None:
    """The pages the README shows, drawn at laptop size (and saved as its screenshots), and on a
    phone-sized viewport with nothing wider than the screen."""
    shots = Path(os.environ.get(SCREENSHOT_DIR) or tmp_path)
    laptop = open_tab(viewport={"width": 1100, "height": 800})
    laptop.log_in("alice")
    laptop.page.get_by_role("heading", name="Recommended for you").wait_for()
    laptop.settle()
    laptop.page.screenshot(path=shots / "web-home.png", full_page=True)
    laptop.goto(SHOWN_PRODUCT)
    laptop.page.get_by_role("button", name="Place order").wait_for()
    laptop.settle()
    laptop.page.screenshot(path=shots / "web-product.png", full_page=True)
    laptop.assert_clean()
    for name in ("web-home.png", "web-product.png"):
        assert (shots / name).read_bytes().startswith(b"\x89PNG")

    phone = open_tab(viewport=PHONE, user_agent=PHONE_USER_AGENT, is_mobile=True, has_touch=True)
    phone.log_in("alice")
    phone.page.get_by_role("heading", name="Recommended for you").wait_for()
    phone.settle()
    assert _fits_the_viewport(phone)
    phone.goto(SHOWN_PRODUCT)
    phone.page.get_by_role("button", name="Place order").wait_for()
    phone.settle()
    assert _fits_the_viewport(phone)
    phone.assert_clean()
