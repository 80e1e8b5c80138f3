"""DPoP proofs: what the gateway signs verifies, and each check of RFC 9449 4.3 refuses."""

from __future__ import annotations

from base64 import urlsafe_b64encode
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from shared.identity.dpop import (
    DpopKey,
    DpopNonceRequired,
    InvalidDpopProof,
    access_token_hash,
    target_uri,
    verify_proof,
)

NOW = 1_800_000_000.0
URL = "https://api.example.com/m/v1/home"


@pytest.fixture(scope="module")
def key() -> DpopKey:
    return DpopKey.generate()


def _forged(header: dict[str, Any], claims: dict[str, Any], signing_key: Any, alg: str) -> str:
    return jwt.encode({**header, "alg": alg}, claims, signing_key, algorithms=[alg])


def _claims(**extra: Any) -> dict[str, Any]:
    return {"jti": "j1", "htm": "GET", "htu": URL, "iat": int(NOW), **extra}


def test_a_proof_verifies_and_names_its_key(key: DpopKey) -> None:
    proof = key.proof("get", URL + "?page=2#top", now=NOW, access_token="at", nonce="n1")
    verified = verify_proof(
        proof,
        method="GET",
        url=URL,
        now=NOW,
        access_token="at",
        bound_jkt=key.thumbprint,
        nonce="n1",
    )
    assert verified.jkt == key.thumbprint
    assert verified.iat == int(NOW)


def test_every_proof_has_a_fresh_jti(key: DpopKey) -> None:
    first = verify_proof(key.proof("GET", URL, now=NOW), method="GET", url=URL, now=NOW)
    second = verify_proof(key.proof("GET", URL, now=NOW), method="GET", url=URL, now=NOW)
    assert first.jti != second.jti


def test_the_key_survives_its_stored_form(key: DpopKey) -> None:
    assert DpopKey.from_pem(key.private_pem()).thumbprint == key.thumbprint


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "POST"}, "another method"),
        ({"url": "https://api.example.com/m/v1/orders"}, "another URL"),
        ({"url": "https://other.example.com/m/v1/home"}, "another URL"),
        ({"now": NOW + 120}, "too old"),
        ({"now": NOW - 60}, "from the future"),
        ({"access_token": "someone-elses"}, "another access token"),
        ({"bound_jkt": "not-this-key"}, "not the one the token is bound to"),
    ],
)
def test_a_proof_for_something_else_is_refused(
    key: DpopKey, changes: dict[str, Any], message: str
) -> None:
    proof = key.proof("GET", URL, now=NOW, access_token="at")
    request: dict[str, Any] = {"method": "GET", "url": URL, "now": NOW, **changes}
    with pytest.raises(InvalidDpopProof, match=message):
        verify_proof(proof, **request)


def test_a_missing_nonce_asks_for_it(key: DpopKey) -> None:
    with pytest.raises(DpopNonceRequired):
        verify_proof(key.proof("GET", URL, now=NOW), method="GET", url=URL, now=NOW, nonce="n2")


def test_a_proof_without_ath_does_not_cover_a_token(key: DpopKey) -> None:
    with pytest.raises(InvalidDpopProof, match="another access token"):
        verify_proof(
            key.proof("GET", URL, now=NOW), method="GET", url=URL, now=NOW, access_token="at"
        )


def test_a_symmetric_or_unsigned_proof_is_refused() -> None:
    secret = OctKey.generate_key(256)
    proof = _forged({"typ": "dpop+jwt", "jwk": {"kty": "oct"}}, _claims(), secret, "HS256")
    with pytest.raises(InvalidDpopProof, match="algorithm"):
        verify_proof(proof, method="GET", url=URL, now=NOW)
    # joserfc refuses to make an unsigned token, so this one is put together by hand.
    header = '{"typ":"dpop+jwt","alg":"none"}'

    def part(text: str) -> str:
        return urlsafe_b64encode(text.encode()).rstrip(b"=").decode()

    with pytest.raises(InvalidDpopProof, match="algorithm"):
        verify_proof(part(header) + "." + part('{"jti":"x"}') + ".", method="GET", url=URL, now=NOW)


def test_the_wrong_type_or_a_private_jwk_is_refused() -> None:
    signer = ECKey.generate_key("P-256", private=True)
    public = signer.as_dict(private=False)
    plain = _forged({"typ": "JWT", "jwk": public}, _claims(), signer, "ES256")
    with pytest.raises(InvalidDpopProof, match="typ"):
        verify_proof(plain, method="GET", url=URL, now=NOW)
    leaky = _forged(
        {"typ": "dpop+jwt", "jwk": signer.as_dict(private=True)}, _claims(), signer, "ES256"
    )
    with pytest.raises(InvalidDpopProof, match="private"):
        verify_proof(leaky, method="GET", url=URL, now=NOW)


def test_a_proof_signed_by_another_key_than_its_jwk_is_refused() -> None:
    signer = ECKey.generate_key("P-256", private=True)
    shown = ECKey.generate_key("P-256", private=True).as_dict(private=False)
    proof = _forged({"typ": "dpop+jwt", "jwk": shown}, _claims(), signer, "ES256")
    with pytest.raises(InvalidDpopProof, match="signature"):
        verify_proof(proof, method="GET", url=URL, now=NOW)


def test_garbage_is_refused() -> None:
    with pytest.raises(InvalidDpopProof, match="compact JWS"):
        verify_proof("not a jwt", method="GET", url=URL, now=NOW)


def test_ath_and_htu_follow_the_rfc() -> None:
    # RFC 9449 section 7.1's example token and its ath.
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert access_token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    assert target_uri("HTTPS://Server.Example.com/token?x=1#f") == (
        "https://server.example.com/token"
    )
