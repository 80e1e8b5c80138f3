"""Browser-facing defences: local-only return URLs, CSRF check, security headers, CORS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from bff_web.app import create_app
from bff_web.security import validate_return_url
from shared.platform.errors import BadRequest
from shared.platform.settings import load_settings
from tests.shared.remote.support import remote_apis_file

ATTACKS = [
    "//evil.example",
    "/\\evil.example",
    "/%09/evil.example",
    "/%5Cevil.example",
    "https:evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "http://127.0.0.1:8000/",
    "/%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "/%25252F",
    "evil.example",
    "/ok\r\nSet-Cookie: x=1",
    "/path with space",
    "data:text/html,<script>alert(1)</script>",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_return_url_attacks_are_refused(attack: str) -> None:
    with pytest.raises(BadRequest):
        validate_return_url(attack)


@pytest.mark.parametrize(
    "local", ["/", "/orders", "/products/7?tab=reviews#top", "/search?q=caf%C3%A9"]
)
def test_local_paths_are_accepted(local: str) -> None:
    assert validate_return_url(local) == local


def test_a_missing_return_url_means_home() -> None:
    assert validate_return_url(None) == "/"


@pytest.fixture
def client() -> Iterator[TestClient[Litestar]]:
    settings = load_settings("web", {"BFF_OIDC_ISSUER": "http://127.0.0.1:9"})
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


@pytest.mark.parametrize("attack", ["//evil.example", "https://evil.example", "/%09/evil"])
def test_login_with_a_bad_return_url_is_a_400_problem_without_redirect(
    client: TestClient[Litestar], attack: str
) -> None:
    response = client.get("/bff/login", params={"returnUrl": attack}, follow_redirects=False)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers


def test_json_endpoints_need_the_csrf_header(client: TestClient[Litestar]) -> None:
    """Every /bff JSON endpoint and every /api route refuses a request without X-CSRF: 1."""
    requests = [
        ("GET", "/bff/user"),
        ("GET", "/bff/sessions"),
        ("DELETE", "/bff/sessions/abc"),
        ("GET", "/api/home"),
        ("GET", "/api/products/7"),
        ("GET", "/api/orders"),
        ("POST", "/api/orders"),
    ]
    for method, path in requests:
        for headers in ({}, {"X-CSRF": "0"}, {"X-CSRF": "true"}):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 403, (method, path, headers)
            assert response.headers["content-type"].startswith("application/problem+json")


def test_every_api_route_needs_the_csrf_header(tmp_path: Path) -> None:
    """Every route under /api, the admin and remote API routes included, refuses a request
    without X-CSRF: 1 before anything else (no session is read: no cookie is sent either)."""
    remote = {"path": "/api/remote/reviews", "upstream": "http://127.0.0.1:9/reviews"}
    environ = {
        "BFF_OIDC_ISSUER": "http://127.0.0.1:9",
        "BFF_REMOTE_APIS_FILE": remote_apis_file(tmp_path, remote),
    }
    app = create_app(load_settings("web", environ))
    checked: list[tuple[str, str]] = []
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        for route in app.routes:
            if not route.path.startswith("/api"):
                continue
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            for method in sorted(getattr(route, "methods", ()) - {"OPTIONS", "HEAD"}):
                response = client.request(method, path, headers={"X-CSRF": "0"})
                assert response.status_code == 403, (method, route.path, response.text)
                assert "X-CSRF" in response.json()["detail"]
                checked.append((method, route.path))
    paths = {path for _, path in checked}
    assert {"/api/home", "/api/orders", "/api/remote/reviews"} <= paths
    assert any(path.startswith("/api/admin") for path in paths), paths


def test_a_foreign_origin_is_refused_even_with_the_csrf_header(
    client: TestClient[Litestar],
) -> None:
    response = client.get("/bff/user", headers={"X-CSRF": "1", "Origin": "https://evil.example"})
    assert response.status_code == 403


def test_an_allowed_origin_with_the_header_reaches_the_session_check(
    client: TestClient[Litestar],
) -> None:
    response = client.get("/bff/user", headers={"X-CSRF": "1", "Origin": "http://127.0.0.1:8000"})
    assert response.status_code == 401


def test_cors_never_reflects_a_foreign_origin(client: TestClient[Litestar]) -> None:
    for method in ("GET", "OPTIONS"):
        response = client.request(
            method,
            "/bff/user",
            headers={
                "Origin": "https://evil.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-csrf",
                "X-CSRF": "1",
            },
        )
        assert response.headers.get("access-control-allow-origin") != "https://evil.example"
        assert "access-control-allow-credentials" not in response.headers or (
            response.headers.get("access-control-allow-origin") is None
        )


@pytest.mark.parametrize("path", ["/", "/bff/user", "/no/such/page", "/health/live"])
def test_every_response_has_the_security_headers(client: TestClient[Litestar], path: str) -> None:
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_bff_responses_are_never_cached(client: TestClient[Litestar]) -> None:
    assert client.get("/bff/user").headers["cache-control"] == "no-store"


def test_the_spa_is_served(client: TestClient[Litestar]) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "/assets/js/main.js" in page.text
    assert client.get("/assets/js/main.js").status_code == 200
