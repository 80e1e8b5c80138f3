"""Route policies on the mobile gateway, checked on the bearer's session before the handler
runs; a login too old answers RFC 9470's challenge, and the app's new authorize request carries
``prompt=login`` and ``max_age`` to the IdP."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
from litestar import get
from litestar.di import Provide

from bff_mobile.tokens import MobileSession, bearer_session
from shared.identity.policy import declare, requires
from tests.bff_mobile.test_auth_flow import APP_VERSION, AppLogin, log_in_app, redeem_code
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IdpServer

CALLED: list[str] = []


BEARER = {"mobile_session": Provide(bearer_session)}


@get("/m/v1/_probe/support", opt=declare(requires(roles=["support"])), dependencies=BEARER)
async def support_probe(mobile_session: MobileSession) -> str:
    CALLED.append(mobile_session.sub)
    return "ok"


@get("/m/v1/_probe/recent", opt=declare(requires(max_auth_age_s=60)), dependencies=BEARER)
async def recent_probe(mobile_session: MobileSession) -> str:
    CALLED.append(mobile_session.sub)
    return "ok"


@pytest.fixture
def mobile(idp: IdpServer, start_gateway: StartGateway, clock: FakeClock) -> RunningGateway:
    """The mobile gateway with two probe routes on the bearer session dependency."""
    gateway = start_gateway("mobile", idp_url=idp.url, clock=clock)
    gateway.app.register(support_probe)
    gateway.app.register(recent_probe)
    return gateway


@pytest.fixture(autouse=True)
def no_calls() -> Iterator[None]:
    CALLED.clear()
    yield
    CALLED.clear()


def call(gateway: RunningGateway, path: str, access_token: str) -> httpx.Response:
    return httpx.get(
        f"{gateway.url}{path}", headers={"Authorization": f"Bearer {access_token}", **APP_VERSION}
    )


def test_a_role_policy_refuses_an_app_user_without_the_role_before_the_handler_runs(
    mobile: RunningGateway,
) -> None:
    alice = log_in_app(mobile.url, sub="alice")["access_token"]
    support = log_in_app(mobile.url, sub="support")["access_token"]

    refused = call(mobile, "/m/v1/_probe/support", alice)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "You are not allowed to do this"
    assert CALLED == []
    assert call(mobile, "/m/v1/_probe/support", support).status_code == 200
    assert CALLED == ["support"]  # the handler ran for support only


def test_a_login_too_old_is_a_step_up_challenge_and_a_new_authorize_asks_the_idp_for_it(
    mobile: RunningGateway, clock: FakeClock
) -> None:
    access_token = log_in_app(mobile.url)["access_token"]
    assert call(mobile, "/m/v1/_probe/recent", access_token).status_code == 200

    clock.advance(61)
    stale = call(mobile, "/m/v1/_probe/recent", access_token)
    assert stale.status_code == 401
    assert stale.headers["www-authenticate"] == (
        'Bearer error="insufficient_user_authentication", max_age=60'
    )
    login_url = stale.json()["loginUrl"]
    assert login_url == "/auth/authorize?prompt=login&max_age=60"
    assert CALLED == ["alice"]  # the stale call never reached the handler

    # The app runs its authorize flow again with these parameters added to its own.
    app = AppLogin()
    with httpx.Client(timeout=10) as browser:
        step_up = urlsplit(login_url)
        params = {**app.authorize_params(), **dict(parse_qsl(step_up.query))}
        start = browser.get(f"{mobile.url}{step_up.path}", params=params)
        assert start.status_code == 302, start.text
        asked = parse_qs(urlsplit(start.headers["location"]).query)
        assert (asked["prompt"], asked["max_age"]) == (["login"], ["60"])
        consent = browser.post(start.headers["location"], data={"sub": "alice"})
        back = browser.get(consent.headers["location"])
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    fresh = redeem_code(mobile.url, code, app.verifier).json()["access_token"]
    assert call(mobile, "/m/v1/_probe/recent", fresh).status_code == 200


@pytest.mark.parametrize(("name", "value"), [("prompt", "none"), ("max_age", "soon")])
def test_authorize_refuses_other_login_options(
    mobile: RunningGateway, name: str, value: str
) -> None:
    params = {**AppLogin().authorize_params(), name: value}
    response = httpx.get(f"{mobile.url}/auth/authorize", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers
