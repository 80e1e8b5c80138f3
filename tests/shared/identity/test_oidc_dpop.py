"""The OIDC client's DPoP side, alone (its provider served by respx): the code is bound with
``dpop_jkt``, each token request carries a proof for that request, and a ``use_dpop_nonce``
answer is retried once with the nonce, which later requests then carry from the start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from joserfc import jws

from shared.identity.dpop import DpopKey, verify_proof
from shared.identity.errors import OidcError
from shared.identity.oidc import OidcRelyingParty
from tests.fixtures.clock import FakeClock

ISSUER = "https://id.example.test"
TOKEN_URL = f"{ISSUER}/token"
NONCE_ERROR = httpx.Response(
    400, json={"error": "use_dpop_nonce"}, headers={"DPoP-Nonce": "idp-nonce-1"}
)
DISCOVERY = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/authorize",
    "token_endpoint": TOKEN_URL,
    "jwks_uri": f"{ISSUER}/jwks",
    "revocation_endpoint": f"{ISSUER}/revoke",
    "dpop_signing_alg_values_supported": ["ES256", "PS256"],
}
TOKENS = {"access_token": "at-1", "token_type": "DPoP", "expires_in": 60, "refresh_token": "rt"}

pytestmark = pytest.mark.anyio


@pytest.fixture
def provider() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=ISSUER, assert_all_called=False) as router:
        router.get("/.well-known/openid-configuration").respond(json=DISCOVERY)
        yield router


@pytest.fixture
def rp(provider: respx.MockRouter, clock: FakeClock) -> OidcRelyingParty:
    return OidcRelyingParty(
        issuer=ISSUER,
        client_id="bff-web",
        client_secret="s",
        redirect_uri="https://bff/cb",
        scopes=("openid",),
        clock=clock,
        dpop=True,
        par="never",
    )


def proof_of(request: httpx.Request, key: DpopKey, clock: FakeClock) -> dict[str, object]:
    verified = verify_proof(
        request.headers["DPoP"], method=request.method, url=str(request.url), now=clock.time()
    )
    assert verified.jkt == key.thumbprint
    claims: dict[str, object] = json.loads(
        jws.extract_compact(request.headers["DPoP"].encode()).payload
    )
    return claims


async def test_the_code_is_bound_to_the_session_key(rp: OidcRelyingParty) -> None:
    key = rp.new_dpop_key()
    assert key is not None
    url = await rp.authorization_url(state="s", nonce="n", code_verifier="v" * 43, dpop_key=key)
    assert parse_qs(urlsplit(url).query)["dpop_jkt"] == [key.thumbprint]


async def test_a_provider_that_takes_no_es256_proof_is_refused_before_the_login(
    rp: OidcRelyingParty, provider: respx.MockRouter
) -> None:
    document = {**DISCOVERY, "dpop_signing_alg_values_supported": ["PS256"]}
    provider.get("/.well-known/openid-configuration").respond(json=document)
    with pytest.raises(OidcError):
        await rp.authorization_url(
            state="s", nonce="n", code_verifier="v" * 43, dpop_key=DpopKey.generate()
        )


async def test_no_key_without_dpop(provider: respx.MockRouter) -> None:
    plain = OidcRelyingParty(
        issuer=ISSUER, client_id="c", client_secret="s", redirect_uri="https://b/cb", scopes=()
    )
    assert plain.new_dpop_key() is None


async def test_a_nonce_is_asked_for_once_then_sent_at_once(
    rp: OidcRelyingParty, provider: respx.MockRouter, clock: FakeClock
) -> None:
    key = DpopKey.generate()
    token = provider.post("/token").mock(
        side_effect=[
            NONCE_ERROR,
            httpx.Response(200, json=TOKENS),
            httpx.Response(200, json=TOKENS),
        ]
    )
    response = await rp.exchange_code(code="c", code_verifier="v", dpop_key=key)
    assert response.token_type == "DPoP"
    first, second = (proof_of(call.request, key, clock) for call in token.calls)
    assert "nonce" not in first
    assert second["nonce"] == "idp-nonce-1"
    assert first["jti"] != second["jti"]
    assert first["htu"] == TOKEN_URL

    await rp.refresh("rt", dpop_key=key)
    assert proof_of(token.calls[2].request, key, clock)["nonce"] == "idp-nonce-1"


async def test_a_nonce_refused_twice_is_an_oidc_error(
    rp: OidcRelyingParty, provider: respx.MockRouter
) -> None:
    provider.post("/token").mock(return_value=NONCE_ERROR)
    with pytest.raises(OidcError):
        await rp.refresh("rt", dpop_key=DpopKey.generate())


async def test_revocation_carries_a_proof_and_answers_a_nonce(
    rp: OidcRelyingParty, provider: respx.MockRouter, clock: FakeClock
) -> None:
    key = DpopKey.generate()
    revoke = provider.post("/revoke").mock(side_effect=[NONCE_ERROR, httpx.Response(200)])
    assert await rp.revoke_refresh_token("rt", dpop_key=key) is True
    assert proof_of(revoke.calls[1].request, key, clock)["nonce"] == "idp-nonce-1"
