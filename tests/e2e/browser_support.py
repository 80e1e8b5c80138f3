"""Driving the demo web app in Chromium: a tab that records console errors, login through the
dev IdP's form, and checks every page must pass (no broken image, nothing readable by script).

A module's tests share one browser (``module_browser``) and one web gateway (``web_app``), and
each test opens its own browser context, so no cookie or cache passes from one test to the next.
Each test logs in as a subject of its own (``fresh_sub``), so nothing the gateway caches for one
user shows in another test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IdpServer

#: A phone-sized viewport (the app must be usable on one).
PHONE = {"width": 390, "height": 844}
PHONE_USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)

_IMAGES_SETTLED = """() => Array.from(document.images).every((image) => image.complete)"""
_BROKEN_IMAGES = """() => Array.from(document.images)
    .filter((image) => image.naturalWidth === 0).map((image) => image.src)"""
_IMAGES_WITHOUT_ALT = """() => Array.from(document.images)
    .filter((image) => !image.hasAttribute("alt")).map((image) => image.src)"""


@dataclass
class WebApp:
    gateway: RunningGateway
    idp: IdpServer
    stubs_url: str

    @property
    def url(self) -> str:
        return self.gateway.url


@pytest.fixture(scope="module")
def web_app(
    start_module_gateway: StartGateway,
    idp_server: IdpServer,
    core_stubs_server: str,
    redis_server_url: str,
) -> WebApp:
    """The web gateway in front of the session's dev IdP, core stubs and Redis."""
    gateway = start_module_gateway(
        "web", idp_url=idp_server.url, stubs_url=core_stubs_server, redis_url=redis_server_url
    )
    return WebApp(gateway, idp_server, core_stubs_server)


def fresh_sub(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@dataclass
class Tab:
    """One browser context with one page, recording what the console says went wrong.

    ``expected`` are fragments of console errors a test provokes on purpose (a 401 while
    signed out, the 503 of an injected failure); anything else fails ``assert_clean``."""

    context: Any
    page: Any
    app: WebApp
    errors: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def on_app_page(self) -> bool:
        """The IdP's pages (its form loads a stylesheet from the internet) are not the app's."""
        return bool(self.page.url.startswith(self.app.url))

    def on_console(self, message: Any) -> None:
        if message.type != "error" or not self.on_app_page():
            return
        if not any(fragment in message.text for fragment in self.expected):
            self.errors.append(message.text)

    def on_request_failed(self, request: Any) -> None:
        """A failed call is an error; an image whose loading a navigation cut short is not (a
        broken image is caught by ``assert_clean`` instead)."""
        aborted_image = request.resource_type == "image" and request.failure == "net::ERR_ABORTED"
        if self.on_app_page() and not aborted_image:
            self.errors.append(f"{request.failure}: {request.url} (on {self.page.url})")

    def goto(self, path: str) -> None:
        self.page.goto(f"{self.app.url}{path}")

    def wait_until_drawn(self) -> None:
        """The page's data has arrived and is drawn ("Loading…" shows until then), so nothing
        is still in flight when the test moves on."""
        self.page.locator("#loading").wait_for(state="hidden")

    def settle(self) -> None:
        """Every image loaded (lazy ones too) or failed."""
        self.page.evaluate(
            "() => document.querySelectorAll('img[loading=lazy]')"
            ".forEach((image) => { image.loading = 'eager'; })"
        )
        self.page.wait_for_function(_IMAGES_SETTLED)

    def assert_clean(self) -> None:
        """The page as drawn: no broken image, every image with alt text, no console error."""
        self.settle()
        assert self.page.evaluate(_BROKEN_IMAGES) == []
        assert self.page.evaluate(_IMAGES_WITHOUT_ALT) == []
        assert self.errors == []

    def log_in(self, sub: str, *, from_path: str = "/") -> None:
        """Open ``from_path`` signed out, follow "Sign in" through the IdP's form, and land back
        on ``from_path``."""
        self.expected.append("status of 401")
        self.goto(from_path)
        self.page.get_by_role("heading", name="You are signed out").wait_for()
        self.page.locator("main").get_by_role("link", name="Sign in").click()
        self.page.wait_for_url(f"{self.app.idp.url}/**")
        self.page.get_by_placeholder("sub").fill(sub)
        self.page.get_by_role("button", name="Authorize").click()
        self.page.wait_for_url(f"{self.app.url}{from_path}")
        self.page.get_by_role("link", name="Sign out").wait_for()
        self.wait_until_drawn()
        self.expected.remove("status of 401")


@pytest.fixture
def open_tab(module_browser: Any, web_app: WebApp) -> Iterator[Any]:
    """``open_tab(**context_options)``: a fresh context and page; all closed after the test."""
    tabs: list[Tab] = []

    def open_one(**options: Any) -> Tab:
        context = module_browser.new_context(**options)
        page = context.new_page()
        tab = Tab(context, page, web_app)
        page.on("console", tab.on_console)
        page.on("pageerror", lambda error: tab.errors.append(f"page error: {error}"))
        page.on("requestfailed", tab.on_request_failed)
        tabs.append(tab)
        return tab

    yield open_one
    for tab in tabs:
        tab.context.close()
