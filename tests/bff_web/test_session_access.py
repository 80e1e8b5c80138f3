"""What a web session may do comes from the real IdP at login (roles from the ID token, the
scopes it granted, the login time) and follows the tokens when they are refreshed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import msgspec

from shared.identity.records import SessionAccess
from shared.identity.session_store import SessionStore
from shared.platform.redis import create_redis_client
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import StartGateway, log_in_browser, redis_session_store
from tests.fixtures.idp import IdpServer, StartIdp

CSRF = {"X-CSRF": "1"}
TOKEN_LIFETIME_S = 4
# The dev IdP grants less than the gateway asks for: no offline_access.
GRANTED = frozenset({"openid", "profile", "email"})
T = TypeVar("T")


def with_store(redis_url: str, action: Callable[[SessionStore], Awaitable[T]]) -> T:
    """Run ``action`` on the shared session store, as another instance would."""

    async def run() -> T:
        redis = create_redis_client(redis_url)
        try:
            return await action(redis_session_store(redis))
        finally:
            await redis.aclose()

    return asyncio.run(run())


def access_of(redis_url: str, sub: str) -> SessionAccess:
    async def read(store: SessionStore) -> SessionAccess:
        (record,) = await store.list_for_user(sub)
        return record.access

    return with_store(redis_url, read)


def test_login_keeps_roles_scopes_and_login_time_and_a_refresh_renews_the_scopes(
    start_idp: StartIdp, core_stubs: str, start_gateway: StartGateway, redis_url: str
) -> None:
    idp = start_idp(token_max_age=TOKEN_LIFETIME_S)
    clock = FakeClock()
    web = start_gateway(
        "web", idp_url=idp.url, stubs_url=core_stubs, redis_url=redis_url, clock=clock
    )
    with httpx.Client(headers=CSRF, timeout=20) as browser:
        log_in_browser(browser, web.url, sub="support")
        cookies = dict(browser.cookies)

    at_login = access_of(redis_url, "support")
    assert (at_login.roles, at_login.scopes) == (frozenset({"support"}), GRANTED)
    assert at_login.authenticated_at is not None
    assert clock.time() - 5 <= at_login.authenticated_at <= clock.time()

    async def narrow(store: SessionStore) -> None:
        (record,) = await store.list_for_user("support")
        fewer = msgspec.structs.replace(record.access, scopes=frozenset({"openid"}))
        assert await store.update_access(record.id, fewer)

    with_store(redis_url, narrow)
    idp.reset_stats()
    clock.advance(TOKEN_LIFETIME_S / 2 + 0.3)  # inside the refresh window
    assert httpx.get(f"{web.url}/api/home", headers=CSRF, cookies=cookies).status_code == 200
    assert idp.stats()["token_requests"]["refresh_token"] == 1

    # The refresh response's scope is what the IdP now grants; the login time does not move.
    assert access_of(redis_url, "support") == at_login


def test_roles_can_come_from_userinfo_for_the_session_s_own_user(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str
) -> None:
    """With BFF_AUTHZ_ROLES_SOURCE=userinfo the gateway asks the IdP's UserInfo endpoint with
    the new access token at login, and keeps what it says."""
    web = start_gateway(
        "web", idp_url=idp.url, redis_url=redis_url, BFF_AUTHZ_ROLES_SOURCE="userinfo"
    )
    for sub in ("support", "alice"):
        with httpx.Client(headers=CSRF, timeout=20) as browser:
            log_in_browser(browser, web.url, sub=sub)
    assert idp.stats()["userinfo_requests"] == 2
    assert access_of(redis_url, "support").roles == {"support"}
    assert access_of(redis_url, "alice").roles == set()
