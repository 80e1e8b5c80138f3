"""Both gateways: health endpoints, problem+json for every error, request id round trip."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import structlog
from litestar import Litestar, get
from litestar.testing import TestClient

from bff_mobile.app import create_app as create_mobile_app
from bff_web.app import create_app as create_web_app
from shared.platform.plugin import build_gateway_app
from shared.platform.settings import load_settings
from tests.fixtures.servers import serve_in_thread

GATEWAYS: dict[str, Callable[..., Litestar]] = {"web": create_web_app, "mobile": create_mobile_app}
PROBLEM_KEYS = {"type", "title", "status", "detail", "traceId"}


@pytest.fixture(params=sorted(GATEWAYS))
def client(request: pytest.FixtureRequest) -> Iterator[TestClient[Litestar]]:
    gateway = request.param
    settings = load_settings(gateway, {"BFF_OIDC_ISSUER": "http://127.0.0.1:9"})
    with TestClient(GATEWAYS[gateway](settings)) as test_client:
        yield test_client


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert len(body["traceId"]) == 32
    return body


def test_live_answers_without_dependencies(client: TestClient[Litestar]) -> None:
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_ready_is_a_503_problem_naming_the_failed_dependency(client: TestClient[Litestar]) -> None:
    """The IdP at port 9 is unreachable: ready says so, and says which check failed."""
    body = assert_problem(client.get("/health/ready"), 503)
    assert body["failed"] == ["oidc"]
    assert "127.0.0.1:9" not in str(body)


def test_unknown_path_is_a_404_problem(client: TestClient[Litestar]) -> None:
    response = client.get("/no/such/path")
    body = assert_problem(response, 404)
    assert response.headers["x-trace-id"] == body["traceId"]
    assert body["traceId"] in response.headers["traceresponse"]


def test_wrong_method_is_a_405_problem(client: TestClient[Litestar]) -> None:
    assert_problem(client.delete("/health/live"), 405)


def test_openapi_document_is_served(client: TestClient[Litestar]) -> None:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


SCHEMA_PATHS = (
    "/schema",
    "/schema/openapi.json",
    "/schema/openapi.yaml",
    "/schema/swagger",
    "/schema/redoc",
    "/schema/elements",
)
PROD_ENVIRON = {
    "BFF_ENV": "prod",
    "BFF_PUBLIC_URL": "https://shop.example.com",
    "BFF_OIDC_ISSUER": "https://127.0.0.1:9",
    "BFF_OIDC_CLIENT_SECRET": "s3cret-client",
    "BFF_SECRET_KEY": "Zq3v9XkP2mW7rT5yB8nL4cF6hJ1dG0sA",
    "BFF_ALLOWED_ORIGINS": "https://shop.example.com",
}


@pytest.mark.parametrize("gateway", sorted(GATEWAYS))
def test_production_serves_no_schema_unless_told_to(gateway: str) -> None:
    """With BFF_ENV=prod, the OpenAPI document and its viewers are 404 problems over HTTP,
    as any unknown path; BFF_OPENAPI=true brings them back."""
    app = GATEWAYS[gateway](load_settings(gateway, PROD_ENVIRON))  # type: ignore[arg-type]
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as http:
        for path in SCHEMA_PATHS:
            assert_problem(http.get(path), 404)
    opted_in = load_settings(gateway, {**PROD_ENVIRON, "BFF_OPENAPI": "true"})  # type: ignore[arg-type]
    with serve_in_thread(GATEWAYS[gateway](opted_in)) as url, httpx.Client(base_url=url) as http:
        assert http.get("/schema/openapi.json").json()["openapi"].startswith("3.")


def test_a_well_formed_request_id_comes_back(client: TestClient[Litestar]) -> None:
    response = client.get("/health/live", headers={"X-Request-Id": "req-12345678"})
    assert response.headers["x-request-id"] == "req-12345678"


@pytest.mark.parametrize("bad", ["short", "has spaces in it!", "x" * 200, "<script>alert(1)"])
def test_a_malformed_request_id_is_replaced(client: TestClient[Litestar], bad: str) -> None:
    response = client.get("/health/live", headers={"X-Request-Id": bad})
    returned = response.headers["x-request-id"]
    assert returned != bad
    assert len(returned) == 32


def test_a_request_without_id_gets_one(client: TestClient[Litestar]) -> None:
    first = client.get("/health/live").headers["x-request-id"]
    second = client.get("/health/live").headers["x-request-id"]
    assert first != second


def test_an_unhandled_exception_is_a_bare_500_logged_once_with_traceback() -> None:
    """A bug gives a 500 problem with no internals; the log has the traceback, once."""

    @get("/boom", sync_to_thread=False)
    def boom() -> None:
        raise RuntimeError("db password is hunter2 at db.internal:5432")

    settings = load_settings("web", {"BFF_OIDC_ISSUER": "http://127.0.0.1:9"})
    app = build_gateway_app(settings, route_handlers=[boom])
    with TestClient(app) as test_client, structlog.testing.capture_logs() as logs:
        response = test_client.get("/boom")
    body = assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "db.internal" not in response.text
    assert "Traceback" not in response.text
    assert body["detail"] == "Internal error"
    errors = [entry for entry in logs if entry["event"] == "unhandled_exception"]
    assert len(errors) == 1
    assert isinstance(errors[0]["exc_info"], RuntimeError)


def test_access_log_line_has_route_template_status_and_request_id(
    client: TestClient[Litestar],
) -> None:
    with structlog.testing.capture_logs() as logs:
        client.get("/health/live", headers={"X-Request-Id": "req-abcdefgh"})
    access = [entry for entry in logs if entry["event"] == "request"]
    assert len(access) == 1
    assert access[0]["route"] == "/health/live"
    assert access[0]["status"] == 200
    assert access[0]["request_id"] == "req-abcdefgh"
