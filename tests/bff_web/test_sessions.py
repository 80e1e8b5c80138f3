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
from shared.platform.redis import create_redis_client
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import (
    RunningGateway,
    StartGateway,
    log_in_browser,
    redis_session_store,
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


def store_session(redis_url: str, *, idle: float, absolute: float, now: float | None = None) -> str:
    """Write a session straight into the shared Redis (as another instance would)."""

    async def create() -> str:
        redis = create_redis_client(redis_url)
        store = redis_session_store(redis)
        created_at = time.time() if now is None else now
        record = store.codec.new_record(
            kind="web",
            sub="timeout-user",
            tokens=TokenSet(access_token="at", access_token_expires_at=created_at + 300),
            claims={"sub": "timeout-user"},
            idle_timeout=idle,
            absolute_timeout=absolute,
            now=created_at,
        )
        await store.create(record)
        await redis.aclose()
        return record.id

    return asyncio.run(create())


def test_an_idle_session_expires(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str
) -> None:
    clock = FakeClock()
    web = start_gateway("web", idp_url=idp.url, redis_url=redis_url, clock=clock)
    session_id = store_session(redis_url, idle=60, absolute=600, now=clock.time())
    probe = httpx.get(
        f"{web.url}/bff/user", params={"slide": "false"}, headers=CSRF, cookies={"bff": session_id}
    )
    assert probe.status_code == 200
    clock.advance(61)
    assert user_status(web, session_id) == 401


def test_activity_cannot_outlive_the_absolute_timeout(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str
) -> None:
    clock = FakeClock()
    web = start_gateway(
        "web", idp_url=idp.url, redis_url=redis_url, clock=clock, BFF_SESSION_IDLE_TIMEOUT="60"
    )
    session_id = store_session(redis_url, idle=60, absolute=120, now=clock.time())
    for _ in range(4):
        assert user_status(web, session_id) == 200  # each request slides the idle timeout
        clock.advance(25)
    clock.advance(25)  # 125 s after login: active all along, but past the absolute timeout
    assert user_status(web, session_id) == 401


def test_user_without_slide_does_not_extend_the_idle_timeout(
    idp: IdpServer, start_gateway: StartGateway, browser: httpx.Client
) -> None:
    clock = FakeClock()
    web = start_gateway("web", idp_url=idp.url, BFF_SESSION_IDLE_TIMEOUT="60", clock=clock)
    log_in_browser(browser, web.url)
    first = browser.get(f"{web.url}/bff/user", params={"slide": "false"}, headers=CSRF).json()
    clock.advance(10)
    second = browser.get(f"{web.url}/bff/user", params={"slide": "false"}, headers=CSRF).json()
    assert second["sessionExpiresIn"] == first["sessionExpiresIn"] - 10
    slid = browser.get(f"{web.url}/bff/user", headers=CSRF).json()
    assert slid["sessionExpiresIn"] == 60


def test_a_record_that_does_not_open_is_ended_with_a_401(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str
) -> None:
    """A stored record whose sealed tokens were changed: 401 and deleted, never a 500."""
    web = start_gateway("web", idp_url=idp.url, redis_url=redis_url)
    session_id = store_session(redis_url, idle=60, absolute=60)
    client = redis.Redis.from_url(redis_url)
    (record_key,) = list(client.scan_iter(match="bff:sess:{u:*}:s:*"))
    client.hset(record_key, "tokens", b'{"ciphertext":"AQAAAAAtampered"}')
    response = httpx.get(f"{web.url}/bff/user", headers=CSRF, cookies={"bff": session_id})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert not client.exists(record_key)  # the bad record was deleted
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
