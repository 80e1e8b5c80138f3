"""The core clients over TLS to the real stubs: verified against a private CA, mutual TLS, and
fail closed (a 503-class ``CoreUnavailable`` with the reason logged, never a plaintext retry)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog

from core_clients.base import CallContext
from core_clients.catalog import CatalogClient
from core_clients.policy import ServicePolicy
from core_clients.transport import build_http_client
from devstack.cli import stubs_tls_options
from devstack.core_stubs import create_stubs_app
from shared.platform.errors import CoreUnavailable
from shared.platform.tls import TlsClientFiles
from tests.fixtures.servers import serve_in_thread
from tests.fixtures.tls import Pki

pytestmark = pytest.mark.anyio
CTX = CallContext(access_token="test-token", request_id="req-tls-test")
POLICY = ServicePolicy(max_attempts=3, backoff_base=0.001, backoff_cap=0.002)


def trusting(pki: Pki, *, client: bool = True, ca: Path | None = None) -> TlsClientFiles:
    return TlsClientFiles(
        ca_file=str(ca or pki.ca),
        client_cert_file=str(pki.client_cert) if client else None,
        client_key_file=str(pki.client_key) if client else None,
    )


async def get_product(base_url: str, files: TlsClientFiles) -> str:
    async with build_http_client(f"{base_url}/catalog", POLICY, tls=files.client_context()) as http:
        return (await CatalogClient(http, POLICY).get_product("7", ctx=CTX)).id


def tls_failures(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [entry for entry in logs if entry["event"] == "core_tls_failed"]


async def test_a_service_over_https_is_verified_against_the_configured_ca(
    tls_stubs: str, pki: Pki
) -> None:
    assert tls_stubs.startswith("https://")
    assert await get_product(tls_stubs, trusting(pki, client=False)) == "7"


async def test_mutual_tls_presents_the_configured_client_certificate(
    mtls_stubs: str, pki: Pki
) -> None:
    assert await get_product(mtls_stubs, trusting(pki)) == "7"


async def test_a_service_signed_by_another_ca_is_refused_once_with_the_reason_logged(
    tls_stubs: str, pki: Pki
) -> None:
    """A wrong CA is not transient: one attempt, no retry, a 503-class error naming only the
    service, and a log line with the service and OpenSSL's reason."""
    with structlog.testing.capture_logs() as logs, pytest.raises(CoreUnavailable) as error:
        await get_product(tls_stubs, trusting(pki, client=False, ca=pki.other_ca))
    assert error.value.status == 503
    assert error.value.detail == "catalog is unavailable"
    (failure,) = tls_failures(logs)
    assert failure["service"] == "catalog"
    assert "certificate verify failed" in str(failure["tls_reason"])


@pytest.fixture(params=["expired", "other host"])
def bad_certificate_stubs(request: pytest.FixtureRequest, pki: Pki) -> Iterator[tuple[str, str]]:
    """Stubs showing a certificate of the right CA that must still be refused."""
    cert, reason = {
        "expired": (pki.expired_cert, "certificate has expired"),
        "other host": (pki.other_host_cert, "mismatch, certificate is not valid for"),
    }[request.param]
    with serve_in_thread(create_stubs_app(), **stubs_tls_options(str(cert), None)) as url:
        yield url, reason


async def test_an_expired_or_mismatched_certificate_is_refused_with_its_reason(
    bad_certificate_stubs: tuple[str, str], pki: Pki
) -> None:
    url, reason = bad_certificate_stubs
    with structlog.testing.capture_logs() as logs, pytest.raises(CoreUnavailable):
        await get_product(url, trusting(pki, client=False))
    (failure,) = tls_failures(logs)
    assert reason in str(failure["tls_reason"])


@pytest.mark.parametrize("certificate", ["none", "from another CA"])
async def test_a_refused_client_certificate_is_unavailable_and_reaches_no_handler(
    mtls_stubs: str, pki: Pki, certificate: str
) -> None:
    """Without a client certificate the stubs' TLS layer hangs up: no request is served, the
    call ends as 503-class, and the log names the service and the likely TLS cause."""
    files = trusting(pki, client=False)
    if certificate == "from another CA":
        files = TlsClientFiles(
            ca_file=str(pki.ca),
            client_cert_file=str(pki.untrusted_client),
            client_key_file=str(pki.untrusted_client),
        )
    control_tls = trusting(pki).client_context()
    async with httpx.AsyncClient(base_url=mtls_stubs, verify=control_tls) as control:
        (await control.delete("/_stats")).raise_for_status()
        with structlog.testing.capture_logs() as logs, pytest.raises(CoreUnavailable):
            await get_product(mtls_stubs, files)
        calls = (await control.get("/_stats")).json()["calls"]
    assert calls == {}
    failures = tls_failures(logs)
    assert failures, [entry["event"] for entry in logs]
    assert {entry["service"] for entry in failures} == {"catalog"}
    assert all("client certificate" in str(entry["tls_reason"]) for entry in failures)
