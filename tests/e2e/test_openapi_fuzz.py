"""Hostile input, by machine: Schemathesis generates requests from each gateway's own OpenAPI
document and sends them with a real session (web: cookie and ``X-CSRF``; mobile: bearer and
``X-App-Version``). Every answer: no 5xx, the status and body its schema promises, and every
error problem+json (the OAuth error format at ``/auth/token``, a page where a browser lands).

Examples are bounded and derandomized, so the module costs seconds and fails the same way twice.
Operations that end the session under test (logouts) are left out: they are covered by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.e2e.faults_support import AppUser, WebUser
from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IdpServer

EXAMPLES = 12
SESSION_ENDING = r"^/(bff|auth)/logout$|^/bff/sessions/\{[^}]+\}$"
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
PROBLEM = "application/problem+json"
PAGES = ("/auth/authorize", "/auth/callback", "/bff/login", "/bff/callback")
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def gateways(
    idp_server: IdpServer,
    core_stubs_server: str,
    redis_server_url: str,
    start_module_gateway: StartGateway,
) -> dict[str, RunningGateway]:
    options = {
        "idp_url": idp_server.url,
        "stubs_url": core_stubs_server,
        "redis_url": redis_server_url,
    }
    return {
        "web": start_module_gateway("web", **options),
        "mobile": start_module_gateway("mobile", **options),
    }


def _schema(gateway: RunningGateway) -> Any:
    return schemathesis.openapi.from_url(f"{gateway.url}/schema/openapi.json").exclude(
        path_regex=SESSION_ENDING
    )


@pytest.fixture(scope="module")
def web_schema(gateways: dict[str, RunningGateway]) -> Any:
    return _schema(gateways["web"])


@pytest.fixture(scope="module")
def mobile_schema(gateways: dict[str, RunningGateway]) -> Any:
    return _schema(gateways["mobile"])


@pytest.fixture(scope="module")
def web_user(gateways: dict[str, RunningGateway]) -> Iterator[WebUser]:
    user = WebUser("fuzz-web").log_in(gateways["web"].url)
    yield user
    user.close()


@pytest.fixture(scope="module")
def app_user(gateways: dict[str, RunningGateway]) -> AppUser:
    return AppUser("fuzz-app").log_in(gateways["mobile"].url)


def assert_error_format(path: str, response: Any) -> None:
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", "")
    if isinstance(content_type, list):
        content_type = content_type[0]
    if path == "/auth/token":
        assert content_type.startswith("application/json"), response.text
        assert "error" in response.json(), response.text
    elif path in PAGES and content_type.startswith("text/html"):
        return
    else:
        assert content_type == PROBLEM, (path, response.status_code, response.text)


def fuzz(schema: Any, send: Callable[[Any], Any]) -> list[str]:
    """Each operation of ``schema`` gets ``EXAMPLES`` generated requests through ``send``;
    returns the operations run, so a test can show none was skipped."""
    ran = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = send(case)
            case.validate_response(response, checks=CHECKS)
            assert_error_format(case.path, response)

        run()
        ran.append(f"{operation.method.upper()} {operation.path}")
    return ran


def test_the_web_gateway_survives_its_own_schema(
    gateways: dict[str, RunningGateway], web_schema: Any, web_user: WebUser
) -> None:
    ran = fuzz(
        web_schema,
        lambda case: case.call(
            base_url=gateways["web"].url,
            headers={"X-CSRF": "1"},
            cookies=dict(web_user.client.cookies),
            allow_redirects=False,
        ),
    )
    assert {"GET /api/home", "POST /api/orders", "GET /bff/user"} <= set(ran)


def test_the_mobile_gateway_survives_its_own_schema(
    gateways: dict[str, RunningGateway], mobile_schema: Any, app_user: AppUser
) -> None:
    ran = fuzz(
        mobile_schema,
        lambda case: case.call(
            base_url=gateways["mobile"].url, headers=app_user.headers, allow_redirects=False
        ),
    )
    assert {"GET /m/v1/home", "POST /m/v1/orders", "POST /auth/token"} <= set(ran)


def test_the_session_under_fuzzing_was_real(
    gateways: dict[str, RunningGateway], web_user: WebUser, app_user: AppUser
) -> None:
    """The fuzzed requests above were authenticated: the same credentials open the screens."""
    assert web_user.home(gateways["web"].url).status_code == 200
    assert app_user.home(gateways["mobile"].url).status_code == 200
    assert httpx.get(f"{gateways['web'].url}/api/home", headers={"X-CSRF": "1"}).status_code == 401


def test_a_made_up_orders_cursor_is_the_clients_error_not_a_failing_service(
    gateways: dict[str, RunningGateway], web_user: WebUser, app_user: AppUser
) -> None:
    """Found by the fuzzing above: the orders service refuses a cursor it did not issue, which
    the gateways used to answer as a 502 from a failing service."""
    answers = [
        web_user.get(f"{gateways['web'].url}/api/orders", params={"cursor": "made-up"}),
        httpx.get(
            f"{gateways['mobile'].url}/m/v1/orders",
            params={"cursor": "made-up"},
            headers=app_user.headers,
        ),
    ]
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
