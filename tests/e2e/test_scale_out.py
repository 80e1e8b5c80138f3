"""Three instances of each gateway on one Redis, behind a round-robin client that plays the load
balancer: one user's requests spread over all three behave as one gateway. The login starts on
one instance and ends on another, the token refresh happens once on whichever instance needs it,
and a logout on the third ends the session everywhere."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import httpx

from shared.platform.settings import Gateway
from tests.bff_mobile.test_auth_flow import APP_VERSION, AppLogin, app_redirect_query
from tests.e2e.faults_support import CSRF
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IDP_TOKEN_MAX_AGE_S, IdpServer
from tests.fixtures.servers import free_port

INSTANCES = 3


class RoundRobin(httpx.BaseTransport):
    """A load balancer in front of the instances: every request to the public origin goes to
    the next instance in turn; ``served`` records which one got it."""

    def __init__(self, public: str, instances: list[RunningGateway]) -> None:
        self.public = httpx.URL(public)
        self.ports = itertools.cycle([httpx.URL(i.url).port for i in instances])
        self.served: list[int] = []
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == self.public.host and request.url.port == self.public.port:
            port = next(self.ports)
            self.served.append(port)
            request.url = request.url.copy_with(port=port)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def start_three(
    gateway: Gateway,
    start: StartGateway,
    idp: IdpServer,
    stubs: str,
    redis_url: str,
    clock: FakeClock,
) -> tuple[str, list[RunningGateway]]:
    """Three instances sharing one public URL (as behind a load balancer), secrets and Redis."""
    public = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the balancer's address
    instances = [
        start(
            gateway,
            idp_url=idp.url,
            stubs_url=stubs,
            redis_url=redis_url,
            clock=clock,
            BFF_PUBLIC_URL=public,
        )
        for _ in range(INSTANCES)
    ]
    return public, instances


def test_web_login_refresh_and_logout_on_three_instances(
    idp: IdpServer, core_stubs: str, redis_url: str, start_gateway: StartGateway
) -> None:
    clock = FakeClock()
    public, instances = start_three("web", start_gateway, idp, core_stubs, redis_url, clock)
    balancer = RoundRobin(public, instances)
    with httpx.Client(transport=balancer, headers=CSRF, timeout=20) as browser:
        start = browser.get(f"{public}/bff/login", params={"returnUrl": "/"})  # instance 1
        assert start.status_code == 302, start.text
        with httpx.Client(timeout=20) as idp_browser:
            consent = idp_browser.post(start.headers["location"], data={"sub": "spread"})
        assert browser.get(consent.headers["location"]).status_code == 302  # instance 2
        assert browser.get(f"{public}/bff/user").status_code == 200  # instance 3

        idp.reset_stats()
        clock.advance(IDP_TOKEN_MAX_AGE_S)  # the access token is due for a refresh
        with ThreadPoolExecutor(6) as pool:
            homes = list(pool.map(lambda _: browser.get(f"{public}/api/home"), range(6)))
        assert [home.status_code for home in homes] == [200] * 6
        assert idp.stats()["token_requests"].get("refresh_token") == 1

        sid = browser.get(f"{public}/bff/user").json()["logoutUrl"]
        assert browser.get(f"{public}{sid}").status_code == 302  # logout, on the next one
        for _ in range(INSTANCES):
            assert browser.get(f"{public}/bff/user").status_code == 401
    assert set(balancer.served) == {httpx.URL(i.url).port for i in instances}


def test_mobile_login_refresh_and_logout_on_three_instances(
    idp: IdpServer, core_stubs: str, redis_url: str, start_gateway: StartGateway
) -> None:
    clock = FakeClock()
    public, instances = start_three("mobile", start_gateway, idp, core_stubs, redis_url, clock)
    balancer = RoundRobin(public, instances)
    with httpx.Client(transport=balancer, timeout=20) as client:
        app = AppLogin()
        start = client.get(f"{public}/auth/authorize", params=app.authorize_params())
        assert start.status_code == 302, start.text
        with httpx.Client(timeout=20) as idp_browser:
            consent = idp_browser.post(start.headers["location"], data={"sub": "spread-app"})
        code = app_redirect_query(client.get(consent.headers["location"]), app)["code"]
        tokens = client.post(
            f"{public}/auth/token",
            data={"grant_type": "authorization_code", "code": code, "code_verifier": app.verifier},
        ).json()

        def bearer(access_token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {access_token}", **APP_VERSION}

        for _ in range(INSTANCES):
            assert (
                client.get(
                    f"{public}/m/v1/home", headers=bearer(tokens["access_token"])
                ).status_code
                == 200
            )
        refreshed = client.post(
            f"{public}/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        assert refreshed.status_code == 200, refreshed.text
        fresh = refreshed.json()
        for _ in range(INSTANCES):
            assert (
                client.get(f"{public}/m/v1/home", headers=bearer(fresh["access_token"])).status_code
                == 200
            )
            assert (
                client.get(
                    f"{public}/m/v1/home", headers=bearer(tokens["access_token"])
                ).status_code
                == 401
            )

        out = client.post(f"{public}/auth/logout", headers=bearer(fresh["access_token"]))
        assert out.status_code in (200, 204), out.text
        for _ in range(INSTANCES):
            assert (
                client.get(f"{public}/m/v1/home", headers=bearer(fresh["access_token"])).status_code
                == 401
            )
        reused = client.post(
            f"{public}/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]},
        )
        assert reused.json()["error"] == "invalid_grant"
    assert set(balancer.served) == {httpx.URL(i.url).port for i in instances}
