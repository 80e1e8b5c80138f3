"""The whole web flow over real sockets (dev IdP process, stubs, Redis, gateway), checking that
no token, cookie value or secret ever leaves the server: not in a body, not in a header other
than Set-Cookie, not in a log event."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import redis
import structlog

from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import CLIENT_SECRETS, TEST_SECRET_KEY, StartGateway, stored_tokens
from tests.fixtures.idp import StartIdp

CSRF = {"X-CSRF": "1"}
TOKEN_LIFETIME_S = 4


class Recorder:
    """Every gateway response the browser saw, to search for secrets afterwards."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        self.responses.append(response)


def test_login_screens_refresh_logout_and_no_secret_leaks(
    start_idp: StartIdp, core_stubs: str, start_gateway: StartGateway, redis_url: str
) -> None:
    idp = start_idp(token_max_age=TOKEN_LIFETIME_S)
    clock = FakeClock()
    web = start_gateway(
        "web", idp_url=idp.url, stubs_url=core_stubs, redis_url=redis_url, clock=clock
    )
    recorder = Recorder()
    secrets: dict[str, str] = {
        "client secret": CLIENT_SECRETS["web"],
        "secret key": TEST_SECRET_KEY,
    }
    with (
        structlog.testing.capture_logs() as logs,
        httpx.Client(headers=CSRF, timeout=20, event_hooks={"response": [recorder]}) as browser,
    ):
        start = browser.get(f"{web.url}/bff/login", params={"returnUrl": "/"})
        secrets["login cookie"] = browser.cookies["bff-login"]
        with httpx.Client() as idp_browser:  # the IdP's own page, not the gateway's answers
            consent = idp_browser.post(start.headers["location"], data={"sub": "alice"})
        callback_url = consent.headers["location"]
        secrets["authorization code"] = parse_qs(urlsplit(callback_url).query)["code"][0]
        assert browser.get(callback_url).status_code == 302
        session_cookie = browser.cookies["bff"]
        secrets["session cookie"] = session_cookie
        first = stored_tokens(redis_url, "alice")
        secrets |= {
            "access token": first.access_token,
            "refresh token": first.refresh_token or "",
            "id token": first.id_token or "",
        }

        stored = redis_contents(redis_url)
        for name in ("session cookie", "access token", "refresh token", "id token"):
            assert secrets[name].encode() not in stored, f"{name} stored in clear in Redis"

        user = browser.get(f"{web.url}/bff/user")
        assert user.status_code == 200
        assert browser.get(f"{web.url}/api/home").status_code == 200

        idp.reset_stats()
        clock.advance(TOKEN_LIFETIME_S / 2 + 0.3)
        assert browser.get(f"{web.url}/api/home").status_code == 200
        assert idp.stats()["token_requests"]["refresh_token"] == 1
        renewed = stored_tokens(redis_url, "alice")
        assert renewed.access_token != first.access_token
        secrets["renewed access token"] = renewed.access_token
        secrets["renewed refresh token"] = renewed.refresh_token or ""

        logout = browser.get(f"{web.url}{user.json()['logoutUrl']}")
        assert logout.status_code == 302
        assert idp.stats()["revocations"] == 1
        old_cookie = httpx.get(f"{web.url}/bff/user", headers=CSRF, cookies={"bff": session_cookie})
        assert old_cookie.status_code == 401

    leaks = find_leaks(secrets, recorder.responses, logs)
    assert leaks == []


def redis_contents(redis_url: str) -> bytes:
    """Every key and value in Redis, as a copy of it (a backup, a replica) would show them."""
    client = redis.Redis.from_url(redis_url)
    parts: list[bytes] = []
    for key in client.scan_iter(count=1000):
        parts.append(key)
        kind = client.type(key)
        if kind == b"string":
            parts.append(client.get(key) or b"")
        elif kind == b"hash":
            parts.extend(b"%s=%s" % item for item in client.hgetall(key).items())
        elif kind == b"set":
            parts.extend(client.smembers(key))
    client.close()
    return b"\n".join(parts)


def find_leaks(
    secrets: dict[str, str], responses: list[httpx.Response], logs: list[dict[str, Any]]
) -> list[str]:
    found = []
    for response in responses:
        headers = [
            f"{name}: {value}"
            for name, value in response.headers.multi_items()
            if name.lower() != "set-cookie"
        ]
        # The id_token_hint in the logout redirect to the IdP is the protocol's, not a leak.
        if response.request.url.path == "/bff/logout":
            headers = [h for h in headers if not h.lower().startswith("location:")]
        text = response.text + "\n".join(headers)
        for name, value in secrets.items():
            if value and value in text:
                found.append(f"{name} in {response.request.method} {response.request.url.path}")
    log_text = "\n".join(repr(event) for event in logs)
    for name, value in secrets.items():
        if value and value in log_text:
            found.append(f"{name} in the logs")
    return found
