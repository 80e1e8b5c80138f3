"""Redis paused and Redis restarted, under both gateways on real sockets: no 500, a 503 problem
with Retry-After while it is away, recovery by itself, and (after a pause) every session that
was written before it still there."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.faults_support import (
    AppUser,
    FaultyRedis,
    WebUser,
    assert_unavailable_problem,
    eventually,
)
from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IdpServer


@dataclass
class Stack:
    redis: FaultyRedis
    web: RunningGateway
    mobile: RunningGateway


@pytest.fixture(scope="module")
def stack(
    idp_server: IdpServer, core_stubs_server: str, start_module_gateway: StartGateway
) -> Iterator[Stack]:
    """Both gateways on a Redis of this module's own, which the tests pause and restart."""
    server = FaultyRedis()
    server.start()
    try:
        options = {"idp_url": idp_server.url, "stubs_url": core_stubs_server}
        yield Stack(
            server,
            start_module_gateway("web", redis_url=server.url, **options),
            start_module_gateway("mobile", redis_url=server.url, **options),
        )
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


def both_ready(stack: Stack) -> bool:
    return all(
        httpx.get(f"{gateway.url}/health/ready", timeout=10).status_code == 200
        for gateway in (stack.web, stack.mobile)
    )


def test_a_paused_redis_is_a_503_with_retry_after_and_every_session_survives(
    stack: Stack,
) -> None:
    """SIGSTOP: screens, the user endpoint and the app's API answer 503 problems within the
    Redis timeout (never a 500, never a hang); SIGCONT: the same sessions work again without
    anyone logging in."""
    web_users = [WebUser(f"paused-web-{n}").log_in(stack.web.url) for n in range(3)]
    app_users = [AppUser(f"paused-app-{n}").log_in(stack.mobile.url) for n in range(3)]
    for user in web_users:
        assert user.home(stack.web.url).status_code == 200
    for app in app_users:
        assert app.home(stack.mobile.url).status_code == 200

    stack.redis.pause()
    try:
        calls = [lambda u=u: u.home(stack.web.url) for u in web_users]
        calls += [lambda u=u: u.get(f"{stack.web.url}/bff/user") for u in web_users]
        calls += [lambda a=a: a.home(stack.mobile.url) for a in app_users]
        with ThreadPoolExecutor(len(calls)) as pool:
            answers = list(pool.map(lambda call: call(), calls))
        for answer in answers:
            assert_unavailable_problem(answer)
        ready = httpx.get(f"{stack.web.url}/health/ready", timeout=20)
        assert_unavailable_problem(ready)
    finally:
        stack.redis.resume()

    eventually(
        lambda: all(u.home(stack.web.url).status_code == 200 for u in web_users),
        what="web sessions answer again after the pause",
    )
    for app in app_users:
        eventually(lambda a=app: a.home(stack.mobile.url).status_code == 200, what="app sessions")
    assert both_ready(stack)
    for user in web_users:
        user.close()


def test_a_restarted_redis_is_a_503_while_down_and_recovers_by_itself(stack: Stack) -> None:
    """Redis stopped: 503 problems with Retry-After (connection refused is no 500). Started
    again (empty: the test Redis keeps nothing on disk): both gateways log users in again with
    no restart of their own, and a session of the lost Redis is a clean 401."""
    before = WebUser("restart-web").log_in(stack.web.url)
    app = AppUser("restart-app").log_in(stack.mobile.url)

    stack.redis.stop()
    try:
        assert_unavailable_problem(before.home(stack.web.url))
        assert_unavailable_problem(app.home(stack.mobile.url))
        assert_unavailable_problem(before.get(f"{stack.web.url}/bff/user"))
    finally:
        stack.redis.start()

    eventually(lambda: both_ready(stack), what="both gateways ready after the restart")
    lost = before.home(stack.web.url)
    assert lost.status_code == 401, lost.text
    assert app.home(stack.mobile.url).status_code == 401
    after = WebUser("restart-web").log_in(stack.web.url)
    assert after.home(stack.web.url).status_code == 200
    assert AppUser("restart-app").log_in(stack.mobile.url).home(stack.mobile.url).status_code == 200
    before.close()
    after.close()
