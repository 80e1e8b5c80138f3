"""DPoP proofs: what the gateway signs verifies, and each check of RFC 9449 4.3 refuses."""

from __future__ import annotations

from base64 import urlsafe_b64encode
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from shared.identity.dpop import (
    BoundToken,
    DpopKey,
    DpopNonceRequired,
    InvalidDpopProof,
    access_token_hash,
    authorization_headers,
    is_dpop_bound,
    presented_key,
    session_key,
    target_uri,
    verify_proof,
)
from shared.identity.records import TokenSet
from tests.fixtures.clock import FakeClock

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


def test_a_bound_token_goes_with_the_dpop_scheme_and_a_proof_per_request(key: DpopKey) -> None:
    headers = authorization_headers("at-1", key, "POST", URL, now=NOW, nonce="n2")
    assert headers["Authorization"] == "DPoP at-1"
    verified = verify_proof(
        headers["DPoP"],
        method="POST",
        url=URL,
        now=NOW,
        access_token="at-1",
        bound_jkt=key.thumbprint,
        nonce="n2",
    )
    again = authorization_headers("at-1", key, "POST", URL, now=NOW)["DPoP"]
    assert verify_proof(again, method="POST", url=URL, now=NOW).jti != verified.jti


def test_an_unbound_token_goes_as_a_bearer() -> None:
    assert authorization_headers("at-1", None, "GET", URL, now=NOW) == {
        "Authorization": "Bearer at-1"
    }


def test_only_a_token_the_idp_bound_is_presented_with_the_session_key(key: DpopKey) -> None:
    """A provider that answers ``Bearer`` to a proof did not bind the token: it goes as a
    bearer, though the session keeps its key for its token requests."""
    pem = key.private_pem()
    bound = TokenSet(access_token="at", token_type="dpop", dpop_key=pem)
    unbound = TokenSet(access_token="at", token_type="Bearer", dpop_key=pem)
    assert is_dpop_bound("DPoP")
    assert is_dpop_bound("dpop")
    assert not is_dpop_bound("Bearer")
    assert presented_key(bound) is not None
    assert presented_key(unbound) is None
    assert session_key(unbound) is not None
    assert session_key(TokenSet(access_token="at")) is None
    assert BoundToken.of(unbound, FakeClock()) is None
    presenter = BoundToken.of(bound, FakeClock(wall=NOW))
    assert presenter is not None
    proof = presenter.headers("GET", URL)["DPoP"]
    assert verify_proof(proof, method="GET", url=URL, now=NOW, access_token="at").jkt == (
        key.thumbprint
    )


def test_neither_key_nor_token_shows_in_a_repr(key: DpopKey) -> None:
    pem = key.private_pem()
    tokens = TokenSet(access_token="at-secret", token_type="DPoP", dpop_key=pem)
    presenter = BoundToken.of(tokens, FakeClock())
    text = repr(key) + repr(tokens) + repr(presenter)
    assert key.thumbprint in repr(key)
    for secret in ("at-secret", pem.decode(), str(key.key.as_dict(private=True)["d"])):
        assert secret not in text
