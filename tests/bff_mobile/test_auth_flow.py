"""The app login over real HTTP: dev IdP process, mobile gateway on a socket, a "system browser"
(a cookie-keeping client) and an "app" (a plain client holding its own PKCE pair).

The helpers here are reused by the other mobile test modules.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis
import structlog

from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IdpServer

LOOPBACK_URI = "http://127.0.0.1:8765/cb"
CUSTOM_SCHEME_URI = "com.example.shop:/oauth/callback"
APP_VERSION = {"X-App-Version": "1.0.0"}


@dataclass
class AppLogin:
    """What a native app makes up before opening the system browser (RFC 8252, RFC 7636)."""

    redirect_uri: str = LOOPBACK_URI
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def authorize_params(self, **overrides: str | None) -> dict[str, str]:
        params: dict[str, str | None] = {
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            **overrides,
        }
        return {k: v for k, v in params.items() if v is not None}


def browser_login(
    gateway_url: str, browser: httpx.Client, app: AppLogin, *, sub: str = "alice"
) -> httpx.Response:
    """The system browser's part: authorize -> IdP login form -> gateway callback."""
    start = browser.get(f"{gateway_url}/auth/authorize", params=app.authorize_params())
    assert start.status_code == 302, start.text
    consent = browser.post(start.headers["location"], data={"sub": sub})
    assert consent.status_code == 302, consent.text
    return browser.get(consent.headers["location"])


def app_redirect_query(response: httpx.Response, app: AppLogin) -> dict[str, str]:
    """The query the gateway sent to the app's redirect URI, which must be exactly the app's."""
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    base, _, query = location.partition("?")
    assert base == app.redirect_uri
    params = {k: v[0] for k, v in parse_qs(query).items()}
    assert params["state"] == app.state
    return params


def redeem_code(gateway_url: str, code: str, verifier: str, **extra: str) -> httpx.Response:
    return httpx.post(
        f"{gateway_url}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier, **extra},
    )


def get_code(gateway_url: str, app: AppLogin | None = None, *, sub: str = "alice") -> str:
    app = app or AppLogin()
    with httpx.Client(timeout=10) as browser:
        return app_redirect_query(browser_login(gateway_url, browser, app, sub=sub), app)["code"]


def log_in_app(gateway_url: str, *, sub: str = "alice") -> dict[str, Any]:
    """The whole app login; returns the token response."""
    app = AppLogin()
    response = redeem_code(gateway_url, get_code(gateway_url, app, sub=sub), app.verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refresh(gateway_url: str, refresh_token: str) -> httpx.Response:
    return httpx.post(
        f"{gateway_url}/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
    )


def get_me(gateway_url: str, access_token: str) -> httpx.Response:
    return httpx.get(
        f"{gateway_url}/m/v1/me",
        headers={"Authorization": f"Bearer {access_token}", **APP_VERSION},
    )


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        yield client


@pytest.fixture
def mobile(idp: IdpServer, start_gateway: StartGateway) -> RunningGateway:
    return start_gateway("mobile", idp_url=idp.url)


def test_the_app_logs_in_calls_the_api_refreshes_and_logs_out(
    mobile: RunningGateway, browser: httpx.Client, idp: IdpServer
) -> None:
    """The whole token-handler flow, as an app and its system browser see it."""
    app = AppLogin()

    # 1. The system browser: authorize -> IdP -> callback -> the app's redirect URI.
    start = browser.get(f"{mobile.url}/auth/authorize", params=app.authorize_params())
    assert start.status_code == 302
    assert start.headers["location"].startswith(f"{idp.url}/")
    consent = browser.post(start.headers["location"], data={"sub": "alice"})
    assert consent.status_code == 302
    assert consent.headers["location"].startswith(f"{mobile.url}/auth/callback?")
    callback = browser.get(consent.headers["location"])
    query = app_redirect_query(callback, app)
    assert set(query) == {"code", "state"}

    # 2. The app redeems the code with its verifier (no cookies: it is not the browser).
    issued = redeem_code(mobile.url, query["code"], app.verifier, redirect_uri=app.redirect_uri)
    assert issued.status_code == 200, issued.text
    assert issued.headers["cache-control"] == "no-store"
    tokens = issued.json()
    assert set(tokens) == {"access_token", "refresh_token", "expires_in", "token_type"}
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 300
    assert tokens["access_token"] != tokens["refresh_token"]
    assert "." not in tokens["access_token"]  # opaque, not a JWT

    # 3. A protected endpoint.
    me = get_me(mobile.url, tokens["access_token"])
    assert me.status_code == 200, me.text
    assert me.json() == {
        "sub": "alice",
        "name": "Alice Example",
        "email": "alice@example.com",
        "sessionExpiresIn": 1800,
    }

    # 4. Refresh: a new pair; the old access token stops working at once.
    refreshed = refresh(mobile.url, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    renewed = refreshed.json()
    assert renewed["access_token"] != tokens["access_token"]
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert get_me(mobile.url, tokens["access_token"]).status_code == 401
    assert get_me(mobile.url, renewed["access_token"]).status_code == 200

    # 5. Logout: the IdP refresh token is revoked and every token is refused.
    logout = httpx.post(
        f"{mobile.url}/auth/logout",
        headers={"Authorization": f"Bearer {renewed['access_token']}"},
    )
    assert logout.status_code == 204
    assert idp.stats()["revocations"] == 1
    assert get_me(mobile.url, renewed["access_token"]).status_code == 401
    assert refresh(mobile.url, renewed["refresh_token"]).json()["error"] == "invalid_grant"


@pytest.mark.parametrize("redirect_uri", [CUSTOM_SCHEME_URI, LOOPBACK_URI])
def test_the_callback_sends_the_code_and_the_apps_state_to_its_redirect_uri(
    mobile: RunningGateway, browser: httpx.Client, redirect_uri: str
) -> None:
    """Custom-scheme and loopback redirect URIs (RFC 8252 7.1, 7.3) both get code and state."""
    app = AppLogin(redirect_uri=redirect_uri, state="app state with spaces & symbols")
    callback = browser_login(mobile.url, browser, app)
    query = app_redirect_query(callback, app)
    assert callback.headers["cache-control"] == "no-store"
    assert redeem_code(mobile.url, query["code"], app.verifier).status_code == 200


def test_authorize_runs_its_own_idp_flow_bound_to_the_browser(
    mobile: RunningGateway, browser: httpx.Client, idp: IdpServer
) -> None:
    """The IdP sees the gateway's own state, nonce and S256 challenge, never the app's; the
    attempt is bound to this browser by an HttpOnly, SameSite=Lax cookie."""
    app = AppLogin()
    start = browser.get(f"{mobile.url}/auth/authorize", params=app.authorize_params())
    idp_query = parse_qs(urlsplit(start.headers["location"]).query)
    assert idp_query["client_id"] == ["bff-mobile"]
    assert idp_query["redirect_uri"] == [f"{mobile.url}/auth/callback"]
    assert idp_query["code_challenge_method"] == ["S256"]
    assert idp_query["code_challenge"] != [app.challenge]
    assert idp_query["state"] != [app.state]
    assert "nonce" in idp_query
    assert start.headers["cache-control"] == "no-store"

    [cookie] = start.headers.get_list("set-cookie")
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert cookie.startswith("bff-mobile-login=")
    assert {"httponly", "samesite=lax", "path=/", "max-age=600"} <= attributes
    value = cookie.split(";")[0].split("=", 1)[1]
    assert len(value) >= 43
    assert value not in start.headers["location"]


def test_two_logins_in_one_browser_both_complete(
    mobile: RunningGateway, browser: httpx.Client
) -> None:
    """A second authorize in the same browser does not break the first one."""
    first, second = AppLogin(), AppLogin(redirect_uri=CUSTOM_SCHEME_URI)
    starts = [
        browser.get(f"{mobile.url}/auth/authorize", params=app.authorize_params())
        for app in (first, second)
    ]
    for app, start in zip((first, second), starts, strict=True):
        consent = browser.post(start.headers["location"], data={"sub": "alice"})
        query = app_redirect_query(browser.get(consent.headers["location"]), app)
        assert redeem_code(mobile.url, query["code"], app.verifier).status_code == 200


def test_a_mobile_session_is_a_shared_store_session_of_kind_mobile(
    mobile: RunningGateway,
) -> None:
    """The session sits in the shared store with the IdP tokens sealed and the IdP sid kept."""
    tokens = log_in_app(mobile.url)
    identity = mobile.identity

    async def sessions() -> list[Any]:
        return list(await identity.sessions.list_for_user("alice"))

    [record] = asyncio.run(sessions())
    assert record.kind == "mobile"
    assert record.idp_sid
    opened = identity.tokens.open_tokens(record)
    assert opened.refresh_token  # the IdP's, kept on the server
    assert tokens["access_token"] not in str(record)
    assert tokens["refresh_token"] not in str(record)


def test_no_code_verifier_or_token_of_the_app_is_ever_logged(
    mobile: RunningGateway, browser: httpx.Client
) -> None:
    """Every log event of a login, an API call, a refresh and a logout, before any redaction,
    is free of the app's secrets."""
    app = AppLogin()
    with structlog.testing.capture_logs() as logs:
        code = app_redirect_query(browser_login(mobile.url, browser, app), app)["code"]
        tokens = redeem_code(mobile.url, code, app.verifier).json()
        assert get_me(mobile.url, tokens["access_token"]).status_code == 200
        renewed = refresh(mobile.url, tokens["refresh_token"]).json()
        httpx.post(
            f"{mobile.url}/auth/logout",
            headers={"Authorization": f"Bearer {renewed['access_token']}"},
        )
    events = [event["event"] for event in logs]
    assert "login_succeeded" in events
    assert "logout" in events
    logged = repr(logs)
    for secret in (code, app.verifier, *tokens.values(), *renewed.values()):
        if isinstance(secret, str) and len(secret) > 8:
            assert secret not in logged


def test_tokens_and_codes_are_never_stored_in_clear(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str
) -> None:
    """A copy of Redis holds no access token, refresh token or one-time code of the app."""
    mobile = start_gateway("mobile", idp_url=idp.url, redis_url=redis_url)
    app = AppLogin()
    code = get_code(mobile.url, app)
    first = redeem_code(mobile.url, code, app.verifier).json()
    second = refresh(mobile.url, first["refresh_token"]).json()
    assert get_me(mobile.url, second["access_token"]).status_code == 200

    client = redis.Redis.from_url(redis_url)
    try:
        dump = b"\n".join(_dump_key(client, key) for key in client.scan_iter())
    finally:
        client.close()
    assert b":tok:access:" in dump  # the index is there, so the scan saw it
    for secret in (
        first["access_token"],
        first["refresh_token"],
        second["access_token"],
        second["refresh_token"],
        code,
    ):
        assert secret.encode() not in dump


def _dump_key(client: redis.Redis, key: bytes) -> bytes:
    """A key's name and everything it holds, as one blob of bytes."""
    kind = client.type(key)
    if kind == b"hash":
        values = [b"%s=%s" % item for item in client.hgetall(key).items()]
    elif kind == b"set":
        values = list(client.smembers(key))
    elif kind == b"string":
        values = [client.get(key) or b""]
    else:
        raise AssertionError(f"unexpected Redis type {kind!r}")
    return key + b" " + b"|".join(values)
