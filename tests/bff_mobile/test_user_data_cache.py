"""The app's screens read their user's data as the web's do (``shared.cache.generations``):
once the session is known to the instance, its per-user entries cost no Redis read of their
own, and the generations come with the session."""

from __future__ import annotations

import httpx
import redis

from tests.bff_mobile.test_auth_flow import APP_VERSION, log_in_app
from tests.bff_web.test_user_data_cache import command_calls
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import StartGateway
from tests.fixtures.idp import IdpServer


def test_once_the_session_is_known_the_apps_home_reads_no_user_entry_from_redis(
    idp: IdpServer, core_stubs: str, start_gateway: StartGateway, redis_url: str
) -> None:
    mobile = start_gateway(
        "mobile", idp_url=idp.url, stubs_url=core_stubs, redis_url=redis_url, clock=FakeClock()
    )
    raw_redis = redis.Redis.from_url(redis_url)
    tokens = log_in_app(mobile.url, sub="alice")
    headers = {"Authorization": f"Bearer {tokens['access_token']}", **APP_VERSION}
    with httpx.Client(base_url=f"{mobile.url}/m/v1", headers=headers, timeout=20) as app:
        first, second = app.get("/home"), app.get("/home")
        assert first.status_code == second.status_code == 200
        generation_reads = command_calls(raw_redis, "hget")
        third = app.get("/home")
        assert third.status_code == 200
        assert third.content == second.content
        assert command_calls(raw_redis, "hget") == generation_reads
