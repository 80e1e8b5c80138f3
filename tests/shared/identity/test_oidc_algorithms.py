"""ID tokens signed with ES256, PS256 or EdDSA (also named Ed25519) are accepted as well as
RS256; ``none`` and HS256 never, even when the provider claims to use them (tokens made here
with joserfc)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
import respx
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, KeySet, OctKey, OKPKey, RSAKey

from shared.identity.oidc import OidcError, OidcRelyingParty
from tests.shared.identity.test_oidc import CLIENT_ID, ISSUER, _unsigned, id_token_claims

KEYS = {
    "RS256": RSAKey.generate_key(2048, parameters={"kid": "rsa"}),
    "PS256": RSAKey.generate_key(2048, parameters={"kid": "rsa-pss"}),
    "ES256": ECKey.generate_key("P-256", parameters={"kid": "ec"}),
    "EdDSA": OKPKey.generate_key("Ed25519", parameters={"kid": "ed"}),
    "Ed25519": OKPKey.generate_key("Ed25519", parameters={"kid": "ed-2"}),
}
SECRET = OctKey.import_key("the-client-secret-the-provider-knows-too")


@pytest.fixture
def rp() -> Iterator[OidcRelyingParty]:
    with respx.mock(base_url=ISSUER, assert_all_called=False) as router:
        router.get("/.well-known/openid-configuration").respond(
            json={
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/authorize",
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
                "id_token_signing_alg_values_supported": [*KEYS, "HS256", "none"],
            }
        )
        router.get("/jwks").respond(json=KeySet(list(KEYS.values())).as_dict(private=False))
        yield OidcRelyingParty(
            issuer=ISSUER,
            client_id=CLIENT_ID,
            client_secret=SECRET.as_dict(private=True)["k"],
            redirect_uri="https://bff/cb",
            scopes=("openid",),
        )


@pytest.mark.anyio
@pytest.mark.parametrize("alg", sorted(KEYS))
async def test_asymmetric_algorithms_are_accepted(rp: OidcRelyingParty, alg: str) -> None:
    key = KEYS[alg]
    with warnings.catch_warnings():  # joserfc's warning that EdDSA is now called Ed25519
        warnings.simplefilter("ignore", SecurityWarning)
        token = jwt.encode({"alg": alg, "kid": key.kid}, id_token_claims(), key, algorithms=[alg])
    claims = await rp.validate_id_token(token, nonce="n-123")
    assert claims["sub"] == "alice"


@pytest.mark.anyio
async def test_hs256_is_refused_even_with_the_client_secret(rp: OidcRelyingParty) -> None:
    token = jwt.encode({"alg": "HS256"}, id_token_claims(), SECRET, algorithms=["HS256"])
    with pytest.raises(OidcError):
        await rp.validate_id_token(token, nonce="n-123")


@pytest.mark.anyio
async def test_none_is_refused_even_when_advertised(rp: OidcRelyingParty) -> None:
    with pytest.raises(OidcError):
        await rp.validate_id_token(_unsigned(id_token_claims()), nonce="n-123")
