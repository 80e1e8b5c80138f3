"""The client's own keys: the JWKS publishes public members only (current and previous key),
kids are RFC 7638 thumbprints, and each assertion is signed for the issuer with a fresh jti."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from shared.identity.client_auth import ASSERTION_LIFETIME_S, ClientAuthentication
from shared.platform.settings import load_settings
from tests.fixtures.client_keys import JWKS_PATH, write_private_key
from tests.fixtures.gateways import StartGateway
from tests.fixtures.idp import IdpServer

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
ISSUER = "https://id.example.test"


def _auth(tmp_path: Path, **environ: str) -> ClientAuthentication:
    settings = load_settings(
        "web",
        {
            "BFF_OIDC_CLIENT_AUTH": "private_key_jwt",
            "BFF_OIDC_CLIENT_KEY_FILE": str(write_private_key(tmp_path, "ec")),
            **environ,
        },
    )
    return ClientAuthentication.from_settings(settings)


def test_the_jwks_has_current_and_previous_public_keys_only(tmp_path: Path) -> None:
    previous = write_private_key(tmp_path, "rsa", "previous.pem")
    auth = _auth(tmp_path, BFF_OIDC_CLIENT_KEY_FILE_PREVIOUS=str(previous))
    document = auth.public_jwks()
    assert [key["kty"] for key in document["keys"]] == ["EC", "RSA"]
    for key in document["keys"]:
        assert not PRIVATE_MEMBERS & set(key)
        assert key["use"] == "sig"
    assert [key["alg"] for key in document["keys"]] == ["ES256", "PS256"]
    assert auth.signing_key is not None
    assert document["keys"][0]["kid"] == ECKey.import_key(document["keys"][0]).thumbprint()
    assert document["keys"][1]["kid"] == RSAKey.import_key(document["keys"][1]).thumbprint()


def test_a_configured_key_id_names_the_current_key(tmp_path: Path) -> None:
    auth = _auth(tmp_path, BFF_OIDC_CLIENT_KEY_ID="bff-2026-11")
    assert [key["kid"] for key in auth.public_jwks()["keys"]] == ["bff-2026-11"]


def test_each_assertion_is_for_the_issuer_with_a_fresh_jti(tmp_path: Path) -> None:
    auth = _auth(tmp_path)
    signer = auth.assertion_signer(ISSUER)
    assert signer is not None

    class Client:
        client_id = "bff-web"

    public = KeySet.import_key_set(auth.public_jwks())
    tokens = [
        jwt.decode(
            signer(Client(), "POST", f"{ISSUER}/token", {}, "")[2].split("client_assertion=")[1],
            public,
        )
        for _ in range(2)
    ]
    first, second = (token.claims for token in tokens)
    assert first["aud"] == ISSUER
    assert first["iss"] == first["sub"] == "bff-web"
    assert first["exp"] - first["iat"] == ASSERTION_LIFETIME_S
    assert first["jti"] != second["jti"]
    assert tokens[0].header["alg"] == "ES256"
    assert tokens[0].header["kid"] == auth.public_jwks()["keys"][0]["kid"]


def test_secret_methods_register_no_signer() -> None:
    auth = ClientAuthentication.from_settings(load_settings("web", {}))
    assert auth.method == "client_secret_basic"
    assert auth.assertion_signer(ISSUER) is None
    assert auth.public_jwks() == {"keys": []}


@pytest.mark.parametrize("gateway", ["web", "mobile"])
def test_both_gateways_publish_both_keys_during_a_rotation(
    idp: IdpServer, start_gateway: StartGateway, tmp_path: Path, gateway: str
) -> None:
    current = write_private_key(tmp_path, "ec")
    previous = write_private_key(tmp_path, "ec", "previous.pem")
    running = start_gateway(
        gateway,
        idp_url=idp.url,
        BFF_OIDC_CLIENT_AUTH="private_key_jwt",
        BFF_OIDC_CLIENT_KEY_FILE=str(current),
        BFF_OIDC_CLIENT_KEY_FILE_PREVIOUS=str(previous),
    )
    response = httpx.get(f"{running.url}{JWKS_PATH}")  # no cookie, no token: public
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    keys = response.json()["keys"]
    expected = [ECKey.import_key(path.read_text()).thumbprint() for path in (current, previous)]
    assert [key["kid"] for key in keys] == expected
    assert all(not PRIVATE_MEMBERS & set(key) for key in keys)
    assert b"PRIVATE" not in response.content
