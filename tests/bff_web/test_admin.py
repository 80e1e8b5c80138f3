"""Support staff ending a user's sessions, against the real dev IdP, two web instances and a
mobile gateway sharing one Redis: role checks, step-up, the audit line, revocation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import structlog

from shared.platform.redis import create_redis_client
from tests.bff_mobile.test_auth_flow import get_me, log_in_app
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import (
    CLIENT_SECRETS,
    RunningGateway,
    StartGateway,
    log_in_browser,
    redis_session_store,
)
from tests.fixtures.idp import IdpServer

CSRF = {"X-CSRF": "1"}
ALICE_SESSIONS = "/api/admin/users/alice/sessions"


@pytest.fixture
def web(
    idp: IdpServer, redis_url: str, start_gateway: StartGateway, clock: FakeClock
) -> tuple[RunningGateway, RunningGateway]:
    """Two web instances sharing Redis and one clock, as behind a load balancer."""
    return (
        start_gateway("web", idp_url=idp.url, redis_url=redis_url, clock=clock),
        start_gateway("web", idp_url=idp.url, redis_url=redis_url, clock=clock),
    )


@pytest.fixture
def mobile(idp: IdpServer, redis_url: str, start_gateway: StartGateway) -> RunningGateway:
    return start_gateway("mobile", idp_url=idp.url, redis_url=redis_url)


def new_browser() -> httpx.Client:
    return httpx.Client(timeout=10, follow_redirects=False)


@pytest.fixture
def support_browser() -> Iterator[httpx.Client]:
    with new_browser() as browser:
        yield browser


@pytest.fixture
def alice_browser() -> Iterator[httpx.Client]:
    with new_browser() as browser:
        yield browser


def signed_in(browser: httpx.Client, gateway: RunningGateway, sub: str) -> str:
    """Log ``sub`` in through the real IdP; returns the session cookie."""
    assert log_in_browser(browser, gateway.url, sub=sub).status_code == 302
    return browser.cookies["bff"]


def admin_call(gateway: RunningGateway, cookie: str, method: str = "GET") -> httpx.Response:
    return httpx.request(
        method, f"{gateway.url}{ALICE_SESSIONS}", headers=CSRF, cookies={"bff": cookie}
    )


def refresh_tokens_of(redis_url: str, sub: str) -> dict[str, str]:
    """The IdP refresh token of each of ``sub``'s sessions, by kind, as another instance reads
    them from Redis."""

    async def read() -> dict[str, str]:
        redis = create_redis_client(redis_url)
        store = redis_session_store(redis)
        found = {}
        for record in await store.list_for_user(sub):
            refresh_token = store.codec.open_tokens(record).refresh_token
            assert refresh_token is not None
            found[record.kind] = refresh_token
        await redis.aclose()
        return found

    return asyncio.run(read())


HANDOFF_SLACK_S = 10.0


def idp_refresh(idp: IdpServer, client: str, refresh_token: str) -> httpx.Response:
    token_endpoint = httpx.get(idp.discovery_url).json()["token_endpoint"]
    return httpx.post(
        token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(f"bff-{client}", CLIENT_SECRETS[client]),
    )


def test_a_user_without_the_support_role_gets_a_403_that_names_nothing_internal(
    web: tuple[RunningGateway, RunningGateway], alice_browser: httpx.Client
) -> None:
    cookie = signed_in(alice_browser, web[0], "alice")
    for method in ("GET", "DELETE"):
        response = admin_call(web[0], cookie, method)
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["detail"] == "You are not allowed to do this"
        assert "support" not in response.text
        assert "loginUrl" not in body
    # The refusal ends nothing: alice is still signed in.
    assert httpx.get(f"{web[0].url}/bff/user", headers=CSRF, cookies={"bff": cookie}).is_success


def test_support_lists_sessions_then_must_log_in_again_once_the_login_is_too_old(
    web: tuple[RunningGateway, RunningGateway],
    support_browser: httpx.Client,
    alice_browser: httpx.Client,
    clock: FakeClock,
) -> None:
    signed_in(alice_browser, web[0], "alice")
    cookie = signed_in(support_browser, web[0], "support")

    listed = admin_call(web[1], cookie)
    assert listed.status_code == 200, listed.text
    [session] = listed.json()
    assert session["kind"] == "web"
    assert set(session) == {
        "id", "kind", "createdAt", "lastSeenAt", "expiresAt", "userAgent", "current"
    }  # fmt: skip

    clock.advance(601)
    stale = admin_call(web[1], cookie)
    assert stale.status_code == 401
    problem = stale.json()
    assert problem["type"].endswith("/step-up-required")
    login_url = problem["loginUrl"]
    assert login_url == "/bff/login?prompt=login&max_age=600"

    # The SPA follows loginUrl (adding where to come back to); the IdP is asked for a new login.
    start = support_browser.get(f"{web[0].url}{login_url}&returnUrl=/admin")
    assert start.status_code == 302
    asked = parse_qs(urlsplit(start.headers["location"]).query)
    assert (asked["prompt"], asked["max_age"]) == (["login"], ["600"])
    consent = support_browser.post(start.headers["location"], data={"sub": "support"})
    back = support_browser.get(consent.headers["location"])
    assert (back.status_code, back.headers["location"]) == (302, "/admin")

    fresh = admin_call(web[1], support_browser.cookies["bff"])
    assert fresh.status_code == 200, fresh.text
    assert admin_call(web[1], cookie).status_code == 401  # the old session ended at login


def test_ending_a_users_sessions_logs_them_out_everywhere_revokes_and_audits(
    web: tuple[RunningGateway, RunningGateway],
    mobile: RunningGateway,
    support_browser: httpx.Client,
    alice_browser: httpx.Client,
    idp: IdpServer,
    redis_url: str,
) -> None:
    """Alice's web session (used on both instances) and her app session end at once; both her
    IdP refresh tokens are revoked, the app's by the mobile gateway's own client (the web's may
    not revoke another client's token); one audit line says who did what, without tokens."""
    alice_cookie = signed_in(alice_browser, web[0], "alice")
    app_tokens = log_in_app(mobile.url, sub="alice")
    support_cookie = signed_in(support_browser, web[0], "support")
    for instance in web:
        user = httpx.get(f"{instance.url}/bff/user", headers=CSRF, cookies={"bff": alice_cookie})
        assert user.status_code == 200
    assert get_me(mobile.url, app_tokens["access_token"]).status_code == 200
    refresh_tokens = refresh_tokens_of(redis_url, "alice")
    assert set(refresh_tokens) == {"web", "mobile"}
    idp.reset_stats()

    with structlog.testing.capture_logs() as logs:
        ended = admin_call(web[1], support_cookie, "DELETE")
    assert ended.status_code == 200, ended.text
    assert ended.json() == {"ended": 2}

    for instance in web:
        user = httpx.get(f"{instance.url}/bff/user", headers=CSRF, cookies={"bff": alice_cookie})
        assert user.status_code == 401
    assert get_me(mobile.url, app_tokens["access_token"]).status_code == 401
    assert refresh_tokens_of(redis_url, "alice") == {}
    refused = idp_refresh(idp, "web", refresh_tokens["web"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    deadline = time.monotonic() + HANDOFF_SLACK_S  # the mobile gateway takes it off its list
    while idp.stats()["revocations"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert idp.stats()["revocations"] == 2
    refused = idp_refresh(idp, "mobile", refresh_tokens["mobile"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")

    [audit] = [event for event in logs if event["event"] == "audit"]
    assert audit == {
        "event": "audit",
        "log_level": "info",
        "actor_sub": "support",
        "action": "user_sessions.end",
        "target_sub": "alice",
        "count": 2,
        "trace_id": ended.headers["x-trace-id"],
    }
    secrets = [alice_cookie, support_cookie, *refresh_tokens.values(), *app_tokens.values()]
    assert_nothing_secret(logs, [str(value) for value in secrets])

    # The support session itself is untouched, and a second call finds nothing left.
    again = admin_call(web[0], support_cookie, "DELETE")
    assert again.json() == {"ended": 0}


def assert_nothing_secret(logs: list[dict[str, Any]], secrets: list[str]) -> None:
    text = repr(logs)
    for secret in secrets:
        if len(secret) > 8:
            assert secret not in text


@pytest.mark.parametrize(
    "options", [{"prompt": "none"}, {"prompt": "consent"}, {"max_age": "-5"}, {"max_age": "ten"}]
)
def test_login_refuses_other_login_options_before_going_to_the_idp(
    web: tuple[RunningGateway, RunningGateway], options: dict[str, str]
) -> None:
    response = httpx.get(f"{web[0].url}/bff/login", params=options)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "location" not in response.headers
