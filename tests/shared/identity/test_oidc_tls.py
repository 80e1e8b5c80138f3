"""The relying party reaches an https provider (the dev IdP over TLS) only through the CA it
was given: the system store does not know the private CA, another CA is refused, and either
failure is ``IdpUnavailable`` with the TLS reason in the log."""

from __future__ import annotations

import ssl

import pytest
import structlog

from shared.identity.errors import IdpUnavailable
from shared.identity.oidc import OidcRelyingParty
from shared.platform.tls import TlsClientFiles
from tests.fixtures.idp import IdpServer
from tests.fixtures.tls import Pki

pytestmark = pytest.mark.anyio


def relying_party(issuer: str, tls: ssl.SSLContext | None) -> OidcRelyingParty:
    return OidcRelyingParty(
        issuer=issuer,
        client_id="bff-web",
        client_secret="dev-secret-bff-web",
        redirect_uri="http://127.0.0.1:8000/bff/callback",
        scopes=("openid",),
        tls=tls,
    )


async def test_the_configured_ca_verifies_the_provider(tls_idp: IdpServer, pki: Pki) -> None:
    rp = relying_party(tls_idp.url, TlsClientFiles(ca_file=str(pki.ca)).client_context())
    try:
        metadata = await rp.metadata()
    finally:
        await rp.aclose()
    assert metadata.issuer == tls_idp.url
    assert metadata.token_endpoint.startswith("https://")


@pytest.mark.parametrize("trust", ["system store", "another CA"])
async def test_a_provider_the_ca_does_not_vouch_for_is_unavailable_with_the_reason_logged(
    tls_idp: IdpServer, pki: Pki, trust: str
) -> None:
    context = None
    if trust == "another CA":
        context = TlsClientFiles(ca_file=str(pki.other_ca)).client_context()
    rp = relying_party(tls_idp.url, context)
    try:
        with structlog.testing.capture_logs() as logs, pytest.raises(IdpUnavailable):
            await rp.metadata()
        assert not await rp.is_reachable()
    finally:
        await rp.aclose()
    failures = [entry for entry in logs if entry["event"] == "idp_tls_failed"]
    assert failures
    assert failures[0]["service"] == "idp"
    assert "certificate verify failed" in failures[0]["tls_reason"]
