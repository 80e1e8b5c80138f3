"""Remote APIs through the web gateway, against the real dev IdP, echo upstream and Redis: the
user's token and nothing of the browser's reaches the upstream, bodies stream both ways, the
gateway's own token is fetched once, a policy refusal never reaches the upstream, and an
upstream outage is a problem."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.client_keys import start_key_client, write_private_key
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import RunningGateway, StartGateway, log_in_browser, stored_tokens
from tests.fixtures.idp import IdpServer, StartIdp
from tests.fixtures.servers import free_port
from tests.shared.remote.support import (
    chunks,
    digest,
    echo_stats,
    remote_apis_file,
    reset_echo,
)

CSRF = {"X-CSRF": "1"}
TWENTY_MB = 20 * 1024 * 1024


@pytest.fixture
def web(
    idp: IdpServer,
    core_stubs: str,
    start_gateway: StartGateway,
    redis_url: str,
    tmp_path: Path,
) -> RunningGateway:
    apis = remote_apis_file(
        tmp_path,
        {
            "path": "/api/remote/echo",
            "upstream": f"{core_stubs}/echo",
            "forward_headers": ["accept-language"],
        },
        {
            "path": "/api/remote/small",
            "upstream": f"{core_stubs}/echo/small",
            "max_request_bytes": 1000,
        },
        {
            "path": "/api/remote/reviews",
            "upstream": f"{core_stubs}/echo/reviews",
            "policy": {"roles": ["reviewer"]},
        },
        {
            "path": "/api/remote/partner",
            "upstream": f"{core_stubs}/echo/partner",
            "token": "client",
            "scopes": ["partner:read"],
        },
        {
            "path": "/api/remote/public-data",
            "upstream": f"{core_stubs}/echo/public",
            "token": "none",
        },
        {"path": "/api/remote/down", "upstream": f"http://127.0.0.1:{free_port()}/v1"},
    )
    reset_echo(core_stubs)
    return start_gateway(
        "web",
        idp_url=idp.url,
        stubs_url=core_stubs,
        redis_url=redis_url,
        BFF_REMOTE_APIS_FILE=apis,
    )


@pytest.fixture
def browser(web: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, headers=CSRF, timeout=30) as client:
        log_in_browser(client, web.url)
        yield client


def test_the_upstream_gets_the_users_token_and_nothing_of_the_browsers(
    browser: httpx.Client, core_stubs: str, redis_url: str
) -> None:
    """Rest of the path and query forwarded; the session's IdP access token as the bearer; no
    cookie, CSRF header or hop-by-hop header; request id and deadline sent; the upstream's
    cookie kept from the browser."""
    response = browser.get(
        "/api/remote/echo/items/7",
        params={"q": "blue shoes", "page": "2"},
        headers={"Accept-Language": "de", "Connection": "x-secret", "X-Secret": "1"},
    )
    assert response.status_code == 200, response.text
    assert "set-cookie" not in response.headers
    seen = response.json()
    assert seen["method"] == "GET"
    assert seen["path"] == "/echo/items/7"
    assert seen["query"] == "q=blue+shoes&page=2"
    headers = seen["headers"]
    assert "cookie" not in headers
    assert "x-csrf" not in headers
    assert "x-secret" not in headers
    assert headers["accept-language"] == "de"
    assert headers["x-request-id"] == response.headers["x-request-id"]
    assert 0 < int(headers["x-deadline-ms"]) <= 5000
    tokens = stored_tokens(redis_url, "alice")
    assert headers["authorization"] == f"Bearer <{len(tokens.access_token)} characters>"
    assert echo_stats(core_stubs)["tokenDigests"] == [digest(tokens.access_token)]


def test_a_due_user_token_is_refreshed_once_before_it_is_forwarded(
    start_idp: StartIdp,
    start_gateway: StartGateway,
    core_stubs: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    lifetime_s = 4  # refreshed in its last 2 s: the skew is capped at half the lifetime
    idp = start_idp(token_max_age=lifetime_s)
    clock = FakeClock()
    apis = remote_apis_file(
        tmp_path, {"path": "/api/remote/echo", "upstream": f"{core_stubs}/echo"}
    )
    web = start_gateway(
        "web",
        idp_url=idp.url,
        stubs_url=core_stubs,
        redis_url=redis_url,
        clock=clock,
        BFF_REMOTE_APIS_FILE=apis,
    )
    with httpx.Client(headers=CSRF, timeout=30) as browser:
        log_in_browser(browser, web.url)
        cookies = dict(browser.cookies)
    first = stored_tokens(redis_url, "alice").access_token
    reset_echo(core_stubs)
    idp.reset_stats()
    clock.advance(lifetime_s / 2 + 0.3)  # inside the refresh window

    def call(n: int) -> int:
        url = f"{web.url}/api/remote/echo/{n}"
        return httpx.get(url, headers=CSRF, cookies=cookies, timeout=30).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
        statuses = list(pool.map(call, range(5)))
    renewed = stored_tokens(redis_url, "alice").access_token
    assert statuses == [200] * 5
    assert idp.stats()["token_requests"]["refresh_token"] == 1
    assert renewed != first
    assert set(echo_stats(core_stubs)["tokenDigests"]) == {digest(renewed)}


def test_twenty_megabytes_stream_up_and_down(browser: httpx.Client) -> None:
    up = browser.post(
        "/api/remote/echo/upload",
        content=chunks(TWENTY_MB),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert up.status_code == 200, up.text
    assert up.json()["bodyLength"] == TWENTY_MB
    with browser.stream("GET", "/api/remote/echo/file", params={"download": TWENTY_MB}) as down:
        assert down.status_code == 200
        assert down.headers["content-type"] == "application/octet-stream"
        received = sum(len(chunk) for chunk in down.iter_raw())
    assert received == TWENTY_MB


def test_the_gateways_own_token_is_fetched_once_for_many_calls(
    browser: httpx.Client, idp: IdpServer, core_stubs: str, redis_url: str
) -> None:
    idp.reset_stats()
    statuses = [browser.get(f"/api/remote/partner/n/{n}").status_code for n in range(5)]
    assert statuses == [200] * 5
    assert idp.stats()["token_requests"]["client_credentials"] == 1
    digests = echo_stats(core_stubs)["tokenDigests"]
    assert len(digests) == 5
    assert len(set(digests)) == 1
    assert digests[0] != digest(stored_tokens(redis_url, "alice").access_token)


def test_the_gateways_own_token_is_asked_for_with_private_key_jwt(
    start_idp: StartIdp,
    start_gateway: StartGateway,
    core_stubs: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """The client-credentials grant authenticates the client as every other token request does."""
    apis = remote_apis_file(
        tmp_path,
        {"path": "/api/remote/partner", "upstream": f"{core_stubs}/echo", "token": "client"},
    )
    setup = start_key_client(
        start_idp,
        start_gateway,
        "web",
        write_private_key(tmp_path, "ec"),
        stubs_url=core_stubs,
        redis_url=redis_url,
        BFF_REMOTE_APIS_FILE=apis,
    )
    with httpx.Client(base_url=setup.gateway.url, headers=CSRF, timeout=30) as browser:
        log_in_browser(browser, setup.gateway.url)
        setup.idp.reset_stats()
        response = browser.get("/api/remote/partner/x")
    assert response.status_code == 200, response.text
    stats = setup.idp.stats()
    assert stats["token_requests"]["client_credentials"] == 1
    assert stats["client_assertions"] == 1


def test_token_none_sends_no_authorization(browser: httpx.Client, core_stubs: str) -> None:
    response = browser.get("/api/remote/public-data/x")
    assert response.status_code == 200, response.text
    assert "authorization" not in response.json()["headers"]
    assert echo_stats(core_stubs)["tokenDigests"] == []


def test_a_policy_refusal_or_missing_csrf_never_reaches_the_upstream(
    browser: httpx.Client, core_stubs: str
) -> None:
    refused = browser.get("/api/remote/reviews/1")
    no_csrf = browser.get("/api/remote/echo/1", headers={"X-CSRF": ""})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert no_csrf.status_code == 403
    assert echo_stats(core_stubs)["calls"] == 0


def test_without_a_session_it_is_a_401_before_any_upstream_call(
    web: RunningGateway, core_stubs: str
) -> None:
    response = httpx.get(f"{web.url}/api/remote/echo/1", headers=CSRF)
    assert response.status_code == 401
    assert echo_stats(core_stubs)["calls"] == 0


def test_a_body_longer_than_the_api_takes_is_a_413_before_the_upstream(
    browser: httpx.Client, core_stubs: str
) -> None:
    announced = browser.post("/api/remote/small/x", content=b"x" * 1001)
    chunked = browser.post("/api/remote/small/x", content=chunks(5000, size=500))
    fits = browser.post("/api/remote/small/x", content=b"x" * 1000)
    assert announced.status_code == 413
    assert announced.headers["content-type"].startswith("application/problem+json")
    assert chunked.status_code == 413
    assert fits.status_code == 200
    assert echo_stats(core_stubs)["calls"] == 1


def test_upstream_statuses_pass_through(browser: httpx.Client) -> None:
    response = browser.get("/api/remote/echo/missing", params={"status": "404"})
    assert response.status_code == 404
    assert response.json()["path"] == "/echo/missing"


def test_an_upstream_outage_is_a_503_problem_with_a_trace_id(browser: httpx.Client) -> None:
    response = browser.get("/api/remote/down/anything")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "/problems/remote-api-unavailable"
    assert "traceId" in problem
    assert "127.0.0.1" not in response.text
    assert response.headers["retry-after"]


def test_a_dot_segment_cannot_climb_out_of_the_upstream_path(
    browser: httpx.Client, core_stubs: str
) -> None:
    response = browser.get("/api/remote/echo/a/%2e%2e/%2e%2e/_stats")
    assert response.status_code == 400
    assert echo_stats(core_stubs)["calls"] == 0
