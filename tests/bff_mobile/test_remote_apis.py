"""Remote APIs through the mobile gateway, against the real dev IdP, echo upstream and Redis: the
upstream gets the user's IdP token (never the app's opaque one), bodies stream both ways, the
gateway's own token is fetched once across two instances, the entry checks come before any
upstream call, and an upstream outage is a problem."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.bff_mobile.test_auth_flow import APP_VERSION, log_in_app
from tests.fixtures.gateways import RunningGateway, StartGateway, stored_tokens
from tests.fixtures.idp import IdpServer
from tests.fixtures.servers import free_port
from tests.shared.remote.support import chunks, digest, echo_stats, remote_apis_file, reset_echo

TWENTY_MB = 20 * 1024 * 1024


@pytest.fixture
def apis_file(core_stubs: str, tmp_path: Path) -> str:
    reset_echo(core_stubs)
    return remote_apis_file(
        tmp_path,
        {"path": "/m/v1/remote/echo", "upstream": f"{core_stubs}/echo"},
        {
            "path": "/m/v1/remote/admin",
            "upstream": f"{core_stubs}/echo/admin",
            "policy": {"scopes": ["admin:write"]},
        },
        {
            "path": "/m/v1/remote/partner",
            "upstream": f"{core_stubs}/echo/partner",
            "token": "client",
            "scopes": ["partner:read"],
        },
        {"path": "/m/v1/remote/down", "upstream": f"http://127.0.0.1:{free_port()}"},
    )


def start_mobile(
    start_gateway: StartGateway, idp: IdpServer, core_stubs: str, redis_url: str, apis_file: str
) -> RunningGateway:
    return start_gateway(
        "mobile",
        idp_url=idp.url,
        stubs_url=core_stubs,
        redis_url=redis_url,
        BFF_REMOTE_APIS_FILE=apis_file,
    )


@pytest.fixture
def mobile(
    start_gateway: StartGateway, idp: IdpServer, core_stubs: str, redis_url: str, apis_file: str
) -> RunningGateway:
    return start_mobile(start_gateway, idp, core_stubs, redis_url, apis_file)


def app_client(mobile: RunningGateway) -> tuple[httpx.Client, str]:
    access_token = str(log_in_app(mobile.url)["access_token"])
    client = httpx.Client(
        base_url=f"{mobile.url}/m/v1/remote",
        headers={"Authorization": f"Bearer {access_token}", **APP_VERSION},
        timeout=30,
    )
    return client, access_token


def test_the_upstream_gets_the_users_idp_token_not_the_apps(
    mobile: RunningGateway, core_stubs: str, redis_url: str
) -> None:
    app, app_token = app_client(mobile)
    with app:
        response = app.get("/echo/me", params={"x": "1"})
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["path"] == "/echo/me"
    assert seen["query"] == "x=1"
    assert "x-app-version" not in seen["headers"]
    idp_token = stored_tokens(redis_url, "alice").access_token
    assert echo_stats(core_stubs)["tokenDigests"] == [digest(idp_token)]
    assert digest(app_token) != digest(idp_token)
    assert "set-cookie" not in response.headers


def test_twenty_megabytes_stream_up_and_down(mobile: RunningGateway) -> None:
    app, _ = app_client(mobile)
    with app:
        up = app.put("/echo/blob", content=chunks(TWENTY_MB))
        with app.stream("GET", "/echo/blob", params={"download": TWENTY_MB}) as down:
            assert down.status_code == 200
            received = sum(len(chunk) for chunk in down.iter_raw())
    assert up.status_code == 200, up.text
    assert up.json()["bodyLength"] == TWENTY_MB
    assert received == TWENTY_MB


def test_the_gateways_own_token_is_fetched_once_across_two_instances(
    start_gateway: StartGateway,
    idp: IdpServer,
    core_stubs: str,
    redis_url: str,
    apis_file: str,
) -> None:
    instances = [
        start_mobile(start_gateway, idp, core_stubs, redis_url, apis_file) for _ in range(2)
    ]
    clients = [app_client(instance)[0] for instance in instances]
    idp.reset_stats()
    statuses = [clients[n % 2].get(f"/partner/{n}").status_code for n in range(6)]
    for client in clients:
        client.close()
    assert statuses == [200] * 6
    assert idp.stats()["token_requests"]["client_credentials"] == 1
    assert len(set(echo_stats(core_stubs)["tokenDigests"])) == 1


def test_entry_checks_and_the_policy_come_before_any_upstream_call(
    mobile: RunningGateway, core_stubs: str
) -> None:
    app, access_token = app_client(mobile)
    with app:
        refused = app.get("/admin/users")
        unversioned = httpx.get(
            f"{mobile.url}/m/v1/remote/echo/1", headers={"Authorization": f"Bearer {access_token}"}
        )
    anonymous = httpx.get(f"{mobile.url}/m/v1/remote/echo/1", headers=APP_VERSION)
    assert refused.status_code == 403
    assert unversioned.status_code == 400
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert echo_stats(core_stubs)["calls"] == 0


def test_an_upstream_outage_is_a_503_problem_with_a_trace_id(mobile: RunningGateway) -> None:
    app, _ = app_client(mobile)
    with app:
        response = app.post("/down/orders", json={"n": 1})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "/problems/remote-api-unavailable"
    assert "traceId" in response.json()
