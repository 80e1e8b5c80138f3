"""The web gateway with every hop it owns over TLS: core services with mutual TLS and Redis with
a client certificate, both verified against the session's private CA. A wrong CA at either hop
fails closed: a 503 problem that names nothing internal, and a log line with the TLS reason."""

from __future__ import annotations

import httpx
import structlog

from tests.fixtures.gateways import StartGateway, log_in_browser
from tests.fixtures.idp import IdpServer
from tests.fixtures.tls import Pki

CSRF = {"X-CSRF": "1"}


def test_login_and_home_over_mutual_tls_to_the_core_services_and_redis(
    idp: IdpServer, mtls_stubs: str, tls_redis_url: str, pki: Pki, start_gateway: StartGateway
) -> None:
    web = start_gateway(
        "web",
        idp_url=idp.url,
        stubs_url=mtls_stubs,
        redis_url=tls_redis_url,
        **pki.env("BFF_CORE"),
        **pki.env("BFF_REDIS"),
    )
    with httpx.Client(base_url=web.url, headers=CSRF, timeout=20) as browser:
        assert log_in_browser(browser, web.url).status_code == 302
        home = browser.get("/api/home")
        assert home.status_code == 200, home.text
        assert home.json()["degraded"] == []
        assert browser.get("/bff/user").status_code == 200
        ready = browser.get("/health/ready")
        assert ready.json()["checks"]["redis"] == "ok"


def test_a_core_service_with_an_untrusted_certificate_is_a_503_problem_and_a_log_line(
    idp: IdpServer, tls_stubs: str, pki: Pki, start_gateway: StartGateway
) -> None:
    web = start_gateway(
        "web", idp_url=idp.url, stubs_url=tls_stubs, BFF_CORE_CA_FILE=str(pki.other_ca)
    )
    with httpx.Client(base_url=web.url, headers=CSRF, timeout=20) as browser:
        log_in_browser(browser, web.url)
        with structlog.testing.capture_logs() as logs:
            home = browser.get("/api/home")
    assert home.status_code == 503
    assert home.headers["content-type"] == "application/problem+json"
    assert "127.0.0.1" not in home.text
    assert "certificate" not in home.text.lower()
    failures = [entry for entry in logs if entry["event"] == "core_tls_failed"]
    assert "accounts" in {entry["service"] for entry in failures}  # the required part
    assert all("certificate verify failed" in entry["tls_reason"] for entry in failures)


def test_redis_with_an_untrusted_certificate_is_a_503_problem_and_a_log_line(
    idp: IdpServer, tls_redis_url: str, pki: Pki, start_gateway: StartGateway
) -> None:
    web = start_gateway(
        "web",
        idp_url=idp.url,
        redis_url=tls_redis_url,
        **{**pki.env("BFF_REDIS"), "BFF_REDIS_CA_FILE": str(pki.other_ca)},
    )
    with httpx.Client(base_url=web.url, headers=CSRF, timeout=20) as browser:
        browser.cookies.set("bff", "a" * 43)
        with structlog.testing.capture_logs() as logs:
            user = browser.get("/bff/user")
            ready = browser.get("/health/ready")
    assert user.status_code == 503
    assert user.headers["content-type"] == "application/problem+json"
    assert ready.status_code == 503
    (outage,) = [entry for entry in logs if entry["event"] == "state_store_unavailable"]
    assert outage["service"] == "redis"
    assert "certificate verify failed" in outage["tls_reason"]
    (check,) = [entry for entry in logs if entry["event"] == "ready_check_failed"]
    assert "certificate verify failed" in check["tls_reason"]


def test_login_through_an_idp_over_https_trusted_by_its_ca_file(
    tls_idp: IdpServer, pki: Pki, start_gateway: StartGateway
) -> None:
    web = start_gateway("web", idp_url=tls_idp.url, BFF_OIDC_CA_FILE=str(pki.ca))
    with httpx.Client(base_url=web.url, headers=CSRF, timeout=20, verify=tls_idp.verify) as browser:
        assert log_in_browser(browser, web.url).status_code == 302
        user = browser.get("/bff/user")
        assert user.status_code == 200, user.text
        assert user.json()["logoutUrl"].startswith("/bff/logout")


def test_an_idp_with_an_untrusted_certificate_is_a_503_problem(
    tls_idp: IdpServer, pki: Pki, start_gateway: StartGateway
) -> None:
    web = start_gateway("web", idp_url=tls_idp.url, BFF_OIDC_CA_FILE=str(pki.other_ca))
    with structlog.testing.capture_logs() as logs:
        start = httpx.get(f"{web.url}/bff/login", timeout=20)
    assert start.status_code == 503
    assert start.headers["content-type"] == "application/problem+json"
    assert "127.0.0.1" not in start.text
    assert any(entry["event"] == "idp_tls_failed" for entry in logs)
