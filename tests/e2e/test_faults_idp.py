"""The IdP away, under both gateways on real sockets.

* Paused (SIGSTOP, so it keeps its state): existing sessions keep working while their access
  token is good; once a refresh is due, screens answer a 503 problem with Retry-After and the
  session stays; resumed, the same sessions refresh and carry on. An unreachable IdP never ends
  a session (only its definitive ``invalid_grant`` does, tested in the token-refresh modules).
* Unreachable at login: a clear 503, a page for a browser, a problem for the SPA's fetch.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.faults_support import (
    AppUser,
    WebUser,
    assert_unavailable_problem,
    eventually,
)
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IdpServer, run_idp
from tests.fixtures.servers import free_port

TOKEN_LIFETIME_S = 30
RETRY_AFTER = "5"


@dataclass
class Stack:
    idp: IdpServer
    clock: FakeClock
    web: RunningGateway
    mobile: RunningGateway


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    core_stubs_server: str,
    redis_server_url: str,
    start_module_gateway: StartGateway,
) -> Iterator[Stack]:
    """An IdP of this module's own (the tests pause it) and both gateways on one fake clock."""
    with run_idp(tmp_path_factory.mktemp("idp-faults"), token_max_age=TOKEN_LIFETIME_S) as idp:
        clock = FakeClock()
        options = {
            "idp_url": idp.url,
            "stubs_url": core_stubs_server,
            "redis_url": redis_server_url,
            "clock": clock,
            "BFF_SCREEN_DEADLINE": "1.0",
        }
        yield Stack(
            idp,
            clock,
            start_module_gateway("web", **options),
            start_module_gateway("mobile", **options),
        )


def test_sessions_outlive_a_paused_idp_and_refresh_when_it_returns(stack: Stack) -> None:
    web_user = WebUser("idp-pause-web").log_in(stack.web.url)
    app = AppUser("idp-pause-app").log_in(stack.mobile.url)
    stack.idp.process.send_signal(signal.SIGSTOP)
    try:
        # No refresh due: the IdP is not needed.
        assert web_user.home(stack.web.url).status_code == 200
        assert app.home(stack.mobile.url).status_code == 200
        assert web_user.get(f"{stack.web.url}/bff/user").status_code == 200

        # A refresh is due and cannot happen: a 503 the client may retry, the session kept.
        stack.clock.advance(TOKEN_LIFETIME_S + 1)
        assert_unavailable_problem(web_user.home(stack.web.url))
        assert_unavailable_problem(app.home(stack.mobile.url))
        assert web_user.get(f"{stack.web.url}/bff/user").status_code == 200
        assert app.refresh(stack.mobile.url).status_code == 200  # the app's own tokens rotate
    finally:
        stack.idp.process.send_signal(signal.SIGCONT)

    eventually(lambda: web_user.home(stack.web.url).status_code == 200, what="web refreshed")
    eventually(lambda: app.home(stack.mobile.url).status_code == 200, what="app refreshed")
    web_user.close()


@pytest.fixture(scope="module")
def without_idp(
    core_stubs_server: str, redis_server_url: str, start_module_gateway: StartGateway
) -> tuple[RunningGateway, RunningGateway]:
    """Both gateways pointed at an IdP that is not there (nothing listens on its port)."""
    options = {
        "idp_url": f"http://127.0.0.1:{free_port()}",
        "stubs_url": core_stubs_server,
        "redis_url": redis_server_url,
    }
    return start_module_gateway("web", **options), start_module_gateway("mobile", **options)


BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_a_login_without_the_idp_is_a_page_for_a_browser_and_a_problem_for_the_spa(
    without_idp: tuple[RunningGateway, RunningGateway],
) -> None:
    web, mobile = without_idp
    page = httpx.get(f"{web.url}/bff/login", headers=BROWSER_ACCEPT, timeout=20)
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == RETRY_AFTER
    assert "Sign-in is unavailable" in page.text

    assert_unavailable_problem(
        httpx.get(f"{web.url}/bff/login", headers={"Accept": "*/*"}, timeout=20)
    )
    ready = httpx.get(f"{web.url}/health/ready", timeout=20)
    assert_unavailable_problem(ready)
    assert ready.json()["failed"] == ["oidc"]

    from tests.bff_mobile.test_auth_flow import AppLogin

    app_page = httpx.get(
        f"{mobile.url}/auth/authorize",
        params=AppLogin().authorize_params(),
        headers=BROWSER_ACCEPT,
        timeout=20,
    )
    assert app_page.status_code == 503
    assert app_page.headers["content-type"].startswith("text/html")
    assert app_page.headers["retry-after"] == RETRY_AFTER


def test_the_idp_coming_back_needs_no_restart(
    tmp_path: Path, core_stubs_server: str, redis_server_url: str, start_gateway: StartGateway
) -> None:
    """A gateway that started while the IdP was away logs users in once it is there."""
    port = free_port()
    web = start_gateway(
        "web",
        idp_url=f"http://127.0.0.1:{port}",
        stubs_url=core_stubs_server,
        redis_url=redis_server_url,
    )
    assert httpx.get(f"{web.url}/bff/login", timeout=20).status_code == 503
    with run_idp(tmp_path, port=port):
        user = WebUser("idp-back").log_in(web.url)
        assert user.home(web.url).status_code == 200
        user.close()
