"""What the fault, scale-out and failover tests share: users of both gateways, the checks every
answer must pass while a part of the stack is away, and polling with a deadline.

A user here is a client holding what a real one holds (the web's cookie jar, the app's bearer
tokens), so the same user can be sent to any gateway instance.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.platform.errors import RETRY_AFTER_S
from tests.bff_mobile.test_auth_flow import APP_VERSION, log_in_app
from tests.fixtures.gateways import log_in_browser
from tests.shared.cache.support import RedisProcess

CSRF = {"X-CSRF": "1"}
CLIENT_TIMEOUT_S = 20.0
"""Far above every gateway bound (Redis 2 s, the screen deadline): a client that waits this
long has met a hung gateway, which the tests then report as such."""


def eventually(check: Callable[[], bool], *, within_s: float = 20.0, what: str = "") -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s}s: {what or check}")
        time.sleep(0.05)


def assert_not_a_fault(response: httpx.Response) -> None:
    """Whatever is away: never a 500, and every 503 is a problem that says when to retry."""
    assert response.status_code != 500, response.text
    if response.status_code == 503:
        assert response.headers["content-type"].startswith(
            ("application/problem+json", "application/json", "text/html")
        ), response.headers
        assert response.headers.get("retry-after") == str(RETRY_AFTER_S), response.headers


def assert_unavailable_problem(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(RETRY_AFTER_S)


@dataclass
class WebUser:
    """A browser logged in at a web gateway: its cookie jar opens the session anywhere."""

    sub: str
    client: httpx.Client = field(
        default_factory=lambda: httpx.Client(headers=CSRF, timeout=CLIENT_TIMEOUT_S)
    )

    def log_in(self, web_url: str) -> WebUser:
        response = log_in_browser(self.client, web_url, sub=self.sub)
        assert response.status_code == 302, response.text
        return self

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(url, **kwargs)

    def home(self, web_url: str) -> httpx.Response:
        return self.client.get(f"{web_url}/api/home")

    def close(self) -> None:
        self.client.close()


@dataclass
class AppUser:
    """An app logged in at a mobile gateway: its tokens are all it has."""

    sub: str
    tokens: dict[str, Any] = field(default_factory=dict)

    def log_in(self, mobile_url: str) -> AppUser:
        self.tokens = log_in_app(mobile_url, sub=self.sub)
        return self

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}", **APP_VERSION}

    def home(self, mobile_url: str) -> httpx.Response:
        return httpx.get(f"{mobile_url}/m/v1/home", headers=self.headers, timeout=CLIENT_TIMEOUT_S)

    def refresh(self, mobile_url: str) -> httpx.Response:
        response = httpx.post(
            f"{mobile_url}/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": self.tokens["refresh_token"]},
            timeout=CLIENT_TIMEOUT_S,
        )
        if response.status_code == 200:
            self.tokens = response.json()
        return response

    def log_out(self, mobile_url: str) -> httpx.Response:
        return httpx.post(f"{mobile_url}/auth/logout", headers=self.headers, timeout=10)


class FaultyRedis(RedisProcess):
    """A private redis-server a test may pause (SIGSTOP), resume, stop and start again."""

    def _signal(self, signum: signal.Signals) -> None:
        assert self._process is not None, "redis-server is not running"
        self._process.send_signal(signum)

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)
