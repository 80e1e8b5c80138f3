"""Logged-in users for the screen scenarios, obtained the way real clients get them.

Web: a browser's code flow through the gateway and the dev IdP's login form, which leaves the
session cookie. Mobile: the native app's token-handler flow (RFC 8252 with PKCE, as in
``tests/bff_mobile/test_auth_flow.py``): the system browser's part ends in a redirect to the
app with a one-time code, which the app redeems with its verifier for an opaque access token
(five minutes) and a rotating refresh token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx

USER = "alice"
WEB_COOKIE = "bff"  # the dev cookie name (``__Host-bff`` only in prod, over https)
APP_REDIRECT_URI = "http://127.0.0.1:8765/cb"
APP_VERSION = "2.0.0"
TIMEOUT_S = 10.0


class LoginError(RuntimeError):
    """A login step did not answer as the flow requires."""


def web_headers(web_url: str, sub: str = USER) -> dict[str, str]:
    """The headers of a logged-in SPA request: the session cookie and the CSRF header."""
    with httpx.Client(timeout=TIMEOUT_S) as browser:
        callback = _through_idp_form(browser, f"{web_url}/bff/login", {}, sub)
        _expect(callback, 302, "web callback")
        cookie = browser.cookies.get(WEB_COOKIE)
    if not cookie:
        raise LoginError("the web callback set no session cookie")
    return {"Cookie": f"{WEB_COOKIE}={cookie}", "X-CSRF": "1"}


@dataclass
class AppSession:
    """The app's tokens; ``refresh`` rotates them, so every scenario starts with five minutes."""

    mobile_url: str
    access_token: str
    refresh_token: str

    @classmethod
    def log_in(cls, mobile_url: str, sub: str = USER) -> AppSession:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        params = {
            "redirect_uri": APP_REDIRECT_URI,
            "state": secrets.token_urlsafe(16),
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        with httpx.Client(timeout=TIMEOUT_S) as browser:
            callback = _through_idp_form(browser, f"{mobile_url}/auth/authorize", params, sub)
        _expect(callback, 302, "mobile callback")
        location = callback.headers["location"]
        if not location.startswith(f"{APP_REDIRECT_URI}?"):
            raise LoginError("the mobile callback did not redirect to the app")
        code = parse_qs(urlsplit(location).query)["code"][0]
        tokens = _token_request(
            mobile_url,
            {"grant_type": "authorization_code", "code": code, "code_verifier": verifier},
        )
        return cls(mobile_url, tokens["access_token"], tokens["refresh_token"])

    def refresh(self) -> None:
        tokens = _token_request(
            self.mobile_url, {"grant_type": "refresh_token", "refresh_token": self.refresh_token}
        )
        self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}", "X-App-Version": APP_VERSION}


def _through_idp_form(
    browser: httpx.Client, start_url: str, params: dict[str, str], sub: str = USER
) -> httpx.Response:
    """Gateway start -> the IdP's login form, submitted -> the gateway's callback."""
    start = browser.get(start_url, params=params)
    _expect(start, 302, "login start")
    consent = browser.post(start.headers["location"], data={"sub": sub})
    _expect(consent, 302, "IdP login form")
    return browser.get(consent.headers["location"])


def _token_request(mobile_url: str, form: dict[str, str]) -> dict[str, str]:
    response = httpx.post(f"{mobile_url}/auth/token", data=form, timeout=TIMEOUT_S)
    _expect(response, 200, f"token request ({form['grant_type']})")
    tokens: dict[str, str] = response.json()
    return tokens


def _expect(response: httpx.Response, status: int, step: str) -> None:
    if response.status_code != status:
        raise LoginError(f"{step}: HTTP {response.status_code}, expected {status}")
