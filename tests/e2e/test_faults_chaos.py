"""Every stub chaos mode on every core service, one at a time and all at once, under concurrent
load on both gateways: no 500, no answer past the screen deadline, every 503 with Retry-After,
the failing service's breaker opens, and it closes again once the service is back.

Time for caches and breakers is the gateways' fake clock: each round first moves it past every
cache's stale window, so the load reaches the services instead of the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from core_clients.breaker import BreakerState
from core_clients.wiring import CORE
from shared.platform.settings import CORE_SERVICES
from tests.e2e.faults_support import AppUser, WebUser, assert_not_a_fault, eventually
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IdpServer

DEADLINE_S = 1.5
SLACK_S = 2.0
"""Room for this busy 2-core test machine: a deadline that is not kept is a timeout-mode hang,
many seconds long, so the slack never hides one."""
PAST_EVERY_CACHE_S = 2000.0
BREAKER_OPEN_S = 1.0
MODES = ("error", "timeout", "reset", "garbage")
ANSWERS = {200, 502, 503, 504}
LIMITS = {
    f"BFF_CORE_{service.upper()}_{name}": value
    for service in CORE_SERVICES
    for name, value in (
        ("TIMEOUT", "0.8"),
        ("BREAKER_FAILURES", "3"),
        ("BREAKER_OPEN_SECONDS", str(BREAKER_OPEN_S)),
    )
}


@dataclass
class Stack:
    stubs: str
    clock: FakeClock
    web: RunningGateway
    mobile: RunningGateway
    web_users: list[WebUser]
    app_users: list[AppUser]

    def chaos(self, service: str, mode: str) -> None:
        spec = {"errorRate": 1.0, "status": 503, "mode": mode}
        httpx.put(f"{self.stubs}/_chaos/{service}", json=spec).raise_for_status()

    def past_every_cache(self) -> None:
        """Move time past every cache's stale window; the apps refresh their access tokens,
        which live shorter than that, as a real app would."""
        self.clock.advance(PAST_EVERY_CACHE_S)
        for app in self.app_users:
            assert app.refresh(self.mobile.url).status_code == 200

    def calm(self) -> None:
        httpx.delete(f"{self.stubs}/_chaos").raise_for_status()

    def breaker(self, gateway: RunningGateway, service: str) -> BreakerState:
        client = getattr(CORE.get(gateway.app.state), service)
        state: BreakerState = client.breaker.state
        return state

    def load(self, rounds: int = 2) -> list[httpx.Response]:
        """Both gateways' screens, every user at once, ``rounds`` times over."""
        calls: list[Callable[[], httpx.Response]] = []
        for n, user in enumerate(self.web_users):
            calls += [
                lambda u=user: u.home(self.web.url),
                lambda u=user, n=n: u.get(f"{self.web.url}/api/products/{n + 1}"),
                lambda u=user: u.get(f"{self.web.url}/api/orders"),
            ]
        for n, app in enumerate(self.app_users):
            calls += [
                lambda a=app: a.home(self.mobile.url),
                lambda a=app, n=n: httpx.get(
                    f"{self.mobile.url}/m/v1/products/{n + 40}", headers=a.headers, timeout=20
                ),
            ]
        with ThreadPoolExecutor(len(calls)) as pool:
            return [
                answer for _ in range(rounds) for answer in pool.map(lambda call: call(), calls)
            ]


@pytest.fixture(scope="module")
def stack(
    idp_server: IdpServer,
    core_stubs_server: str,
    redis_server_url: str,
    start_module_gateway: StartGateway,
) -> Iterator[Stack]:
    clock = FakeClock()
    options = {
        "idp_url": idp_server.url,
        "stubs_url": core_stubs_server,
        "redis_url": redis_server_url,
        "clock": clock,
        "BFF_SCREEN_DEADLINE": str(DEADLINE_S),
        "BFF_SESSION_IDLE_TIMEOUT": "86400",
        "BFF_SESSION_ABSOLUTE_TIMEOUT": str(86400 * 90),
        **LIMITS,
    }
    web = start_module_gateway("web", **options)
    mobile = start_module_gateway("mobile", **options)
    web_users = [WebUser(f"chaos-web-{n}").log_in(web.url) for n in range(3)]
    app_users = [AppUser(f"chaos-app-{n}").log_in(mobile.url) for n in range(3)]
    stack = Stack(core_stubs_server, clock, web, mobile, web_users, app_users)
    try:
        yield stack
    finally:
        stack.calm()
        for user in web_users:
            user.close()


def check(answers: list[httpx.Response]) -> None:
    for answer in answers:
        assert_not_a_fault(answer)
        assert answer.status_code in ANSWERS, (answer.request.url, answer.text)
        assert answer.elapsed.total_seconds() < DEADLINE_S + SLACK_S, answer.request.url


def recover(stack: Stack, services: tuple[str, ...]) -> None:
    """Chaos off, the breakers' open period over: both gateways answer 200 again and every
    breaker is closed, with no restart."""
    stack.calm()

    def all_well() -> bool:
        # Past the open period each time: a call the busy machine made slow may have opened
        # a breaker again, and only the clock lets it half-open.
        stack.clock.advance(BREAKER_OPEN_S + 0.1)
        answers = stack.load(rounds=1)
        return {a.status_code for a in answers} == {200} and all(
            stack.breaker(gateway, service) is BreakerState.CLOSED
            for gateway in (stack.web, stack.mobile)
            for service in services
        )

    eventually(all_well, within_s=60, what=f"{', '.join(services)} recovered")


def until_open(stack: Stack, service: str) -> None:
    """More load until the service's breaker is open on both gateways: how many rounds that
    takes depends on how many calls the deadline lets reach the service on a busy machine
    (an optional part cut short by the deadline is no breaker failure), never on luck."""

    def opened() -> bool:
        states = [stack.breaker(gateway, service) for gateway in (stack.web, stack.mobile)]
        if BreakerState.CLOSED not in states:
            return True
        check(stack.load(rounds=1))
        return False

    eventually(opened, within_s=60, what=f"the {service} breaker opens on both gateways")


CASES = [(service, mode) for service in CORE_SERVICES for mode in MODES]


@pytest.mark.parametrize(("service", "mode"), CASES, ids=[f"{s}-{m}" for s, m in CASES])
def test_one_service_failing_in_one_mode(stack: Stack, service: str, mode: str) -> None:
    stack.past_every_cache()
    stack.chaos(service, mode)
    check(stack.load())
    until_open(stack, service)
    recover(stack, (service,))


def test_every_service_failing_at_once(stack: Stack) -> None:
    """Each service in another mode, all at the same time."""
    stack.past_every_cache()
    for service, mode in zip(CORE_SERVICES, MODES, strict=True):
        stack.chaos(service, mode)
    answers = stack.load()
    check(answers)
    assert {a.status_code for a in answers} <= ANSWERS - {200} | {200}
    assert any(a.status_code != 200 for a in answers)
    recover(stack, CORE_SERVICES)
