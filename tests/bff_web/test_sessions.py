"""Server-side sessions behind the web gateway: timeouts, bad records, logout everywhere,
back-channel logout, the sessions list, and two instances sharing one Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from shared.identity.records import TokenSet
from shared.identity.sessions import RedisSessionStore
from shared.platform.crypto import TokenCipher
from shared.platform.redis import create_redis_client
from tests.fixtures.gateways import (
    TEST_SECRET_KEY,
    RunningGateway,
    StartGateway,
    log_in_browser,
)
from tests.fixtures.idp import IdpServer, StartIdp
from tests.fixtures.servers import free_port

CSRF = {"X-CSRF": "1"}


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        yield client


def user_status(gateway: RunningGateway, cookie: str) -> int:
    return httpx.get(f"{gateway.url}/bff/user", headers=CSRF, cookies={"bff": cookie}).status_code


def store_session(redis_url: str, secret_key: str, *, idle: float, absolute: float) -> str:
    """Write a session straight into the shared Redis (as another instance would)."""

    async def create() -> str:
        redis = create_redis_client(redis_url)
        store = RedisSessionStore(redis, TokenCipher(secret_key))
        record = store.new_record(
            kind="web",
            sub="timeout-user",
            tokens=TokenSet(access_token="at", access_token_expires_at=time.time() + 300),
            claims={"sub": "timeout-user"},
            idle_timeout=idle,
            absolute_timeout=absolute,
        )
        await store.create(record)
        await redis.aclose()
        return record.id

    return asyncio.run(create())


def test_an_idle_session_expires(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str
) -> None:
    web = start_gateway("web", idp_url=idp.url, redis_url=redis_url)
    session_id = store_session(redis_url, TEST_SECRET_KEY, idle=1, absolute=60)
    probe = httpx.get(
        f"{web.url}/bff/user", params={"slide": "false"}, headers=CSRF, cookies={"bff": session_id}
    )
    assert probe.status_code == 200
    time.sleep(1.3)
    assert user_status(web, session_id) == 401


def test_activity_cannot_outlive_the_absolute_timeout(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str
) -> None:
    web = start_gateway("web", idp_url=idp.url, redis_url=redis_url)
    session_id = store_session(redis_url, TEST_SECRET_KEY, idle=1, absolute=2)
    for _ in range(4):
        assert user_status(web, session_id) == 200
        time.sleep(0.4)
    time.sleep(0.6)
    assert user_status(web, session_id) == 401


def test_user_without_slide_does_not_extend_the_idle_timeout(
    idp: IdpServer, start_gateway: StartGateway, browser: httpx.Client
) -> None:
    web = start_gateway("web", idp_url=idp.url, BFF_SESSION_IDLE_TIMEOUT="60")
    log_in_browser(browser, web.url)
    first = browser.get(f"{web.url}/bff/user", params={"slide": "false"}, headers=CSRF).json()
    time.sleep(1.1)
    second = browser.get(f"{web.url}/bff/user", params={"slide": "false"}, headers=CSRF).json()
    assert second["sessionExpiresIn"] < first["sessionExpiresIn"]
    slid = browser.get(f"{web.url}/bff/user", headers=CSRF).json()
    assert slid["sessionExpiresIn"] >= 59


def test_a_record_that_does_not_decrypt_is_ended_with_a_401(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str
) -> None:
    """A record sealed with a key this gateway does not have: 401 and deleted, never a 500."""
    web = start_gateway("web", idp_url=idp.url, redis_url=redis_url)
    session_id = store_session(redis_url, "Vb8Nm2Qw4Er6Ty0Ui1Op3As5Df7Gh9Jk", idle=60, absolute=60)
    client = redis.Redis.from_url(redis_url)
    keys_before = client.dbsize()
    response = httpx.get(f"{web.url}/bff/user", headers=CSRF, cookies={"bff": session_id})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.dbsize() < keys_before  # the bad record was deleted
    client.close()


def test_sessions_list_marks_the_current_one_and_ends_only_my_own(
    idp: IdpServer, start_gateway: StartGateway
) -> None:
    web = start_gateway("web", idp_url=idp.url)
    with httpx.Client() as laptop, httpx.Client() as phone, httpx.Client() as mallory:
        log_in_browser(laptop, web.url, sub="alice")
        log_in_browser(phone, web.url, sub="alice")
        log_in_browser(mallory, web.url, sub="mallory")
        sessions = laptop.get(f"{web.url}/bff/sessions", headers=CSRF).json()
        assert len(sessions) == 2
        assert [s["current"] for s in sessions].count(True) == 1
        assert all(s["kind"] == "web" for s in sessions)
        for session in sessions:
            assert session["id"] not in (laptop.cookies["bff"], phone.cookies["bff"])
        other = next(s for s in sessions if not s["current"])

        # mallory cannot end alice's session
        denied = mallory.delete(f"{web.url}/bff/sessions/{other['id']}", headers=CSRF)
        assert denied.status_code == 404
        assert phone.get(f"{web.url}/bff/user", headers=CSRF).status_code == 200

        ended = laptop.delete(f"{web.url}/bff/sessions/{other['id']}", headers=CSRF)
        assert ended.status_code == 204
        assert phone.get(f"{web.url}/bff/user", headers=CSRF).status_code == 401
        assert laptop.get(f"{web.url}/bff/user", headers=CSRF).status_code == 200


def test_backchannel_logout_ends_the_idp_session_and_refuses_a_replay(
    start_idp: StartIdp, start_gateway: StartGateway, browser: httpx.Client
) -> None:
    port = free_port()
    idp = start_idp(
        backchannel_logout_uris={"bff-web": f"http://127.0.0.1:{port}/bff/backchannel-logout"}
    )
    web = start_gateway("web", idp_url=idp.url, port=port)
    log_in_browser(browser, web.url)
    assert browser.get(f"{web.url}/bff/user", headers=CSRF).status_code == 200

    sid_token = httpx.post(
        f"{idp.url}/_dev/logout-token", json={"client_id": "bff-web", "sub": "alice"}
    ).json()["logout_token"]
    first = httpx.post(f"{web.url}/bff/backchannel-logout", data={"logout_token": sid_token})
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    assert browser.get(f"{web.url}/bff/user", headers=CSRF).status_code == 401
    replay = httpx.post(f"{web.url}/bff/backchannel-logout", data={"logout_token": sid_token})
    assert replay.status_code == 400


def test_rp_initiated_logout_at_the_idp_reaches_the_gateway_by_back_channel(
    start_idp: StartIdp, start_gateway: StartGateway
) -> None:
    """Logging out in one browser ends the same IdP session's BFF session in the other tab."""
    port = free_port()
    idp = start_idp(
        backchannel_logout_uris={"bff-web": f"http://127.0.0.1:{port}/bff/backchannel-logout"}
    )
    web = start_gateway("web", idp_url=idp.url, port=port)
    with httpx.Client() as tab_one, httpx.Client() as tab_two:
        log_in_browser(tab_one, web.url)
        # The second session shares the IdP session cookie, so the same IdP sid.
        tab_two.cookies.update(tab_one.cookies)
        tab_two.cookies.delete("bff")
        log_in_browser(tab_two, web.url)
        logout_url = tab_one.get(f"{web.url}/bff/user", headers=CSRF).json()["logoutUrl"]
        to_idp = tab_one.get(f"{web.url}{logout_url}")
        assert tab_one.get(to_idp.headers["location"]).status_code in (302, 303)
        assert tab_two.get(f"{web.url}/bff/user", headers=CSRF).status_code == 401


def test_backchannel_logout_rejects_a_missing_token(
    idp: IdpServer, start_gateway: StartGateway
) -> None:
    web = start_gateway("web", idp_url=idp.url)
    response = httpx.post(f"{web.url}/bff/backchannel-logout", data={})
    assert response.status_code == 400


def test_two_instances_share_sessions_and_logout(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str, browser: httpx.Client
) -> None:
    """A session made on one instance works on the other; a logout on one is seen at once."""
    first = start_gateway("web", idp_url=idp.url, redis_url=redis_url)
    second = start_gateway("web", idp_url=idp.url, redis_url=redis_url)
    log_in_browser(browser, first.url)
    cookie = browser.cookies["bff"]
    assert user_status(second, cookie) == 200
    logout_url = browser.get(f"{first.url}/bff/user", headers=CSRF).json()["logoutUrl"]
    assert browser.get(f"{first.url}{logout_url}").status_code == 302
    assert user_status(second, cookie) == 401


def test_a_dead_redis_is_a_503_problem_not_a_500(
    idp: IdpServer, start_gateway: StartGateway
) -> None:
    """With the session store unreachable, requests get a retryable 503 problem."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    web = start_gateway("web", idp_url=idp.url, redis_url=dead)
    response = httpx.get(f"{web.url}/bff/user", headers=CSRF, cookies={"bff": "x" * 43})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "127.0.0.1" not in response.text
    ready = httpx.get(f"{web.url}/health/ready")
    assert ready.status_code == 503
    assert "redis" in ready.json()["failed"]
