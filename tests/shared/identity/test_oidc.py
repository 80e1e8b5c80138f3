"""ID-token and logout-token validation: every defect the web and mobile gateways must refuse.

A unit test of the OIDC client alone: its provider is served by respx (discovery and JWKS), and
the tokens are signed here with joserfc, so each defect can be made on purpose.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from shared.identity.oidc import OidcError, OidcRelyingParty
from shared.identity.provider_jwts import BACKCHANNEL_LOGOUT_EVENT

ISSUER = "https://id.example.test"
CLIENT_ID = "bff-web"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})


def sign(claims: dict[str, Any], key: RSAKey = KEY, header: dict[str, Any] | None = None) -> str:
    return jwt.encode({"alg": "RS256", "kid": "k1", **(header or {})}, claims, key)


def id_token_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
        "nonce": "n-123",
        "sid": "idp-session-1",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def logout_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
        "sid": "idp-session-1",
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def provider() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=ISSUER, assert_all_called=False) as router:
        router.get("/.well-known/openid-configuration").respond(
            json={
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/authorize",
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
                "userinfo_endpoint": f"{ISSUER}/userinfo",
                "id_token_signing_alg_values_supported": ["RS256"],
                "authorization_response_iss_parameter_supported": True,
            }
        )
        router.get("/jwks").respond(json=KeySet([KEY]).as_dict(private=False))
        yield router


@pytest.fixture
def rp(provider: respx.MockRouter) -> OidcRelyingParty:
    return OidcRelyingParty(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        client_secret="s",
        redirect_uri="https://bff/cb",
        scopes=("openid",),
    )


@pytest.mark.anyio
async def test_a_good_id_token_is_accepted(rp: OidcRelyingParty) -> None:
    claims = await rp.validate_id_token(sign(id_token_claims()), nonce="n-123")
    assert claims["sub"] == "alice"


def _unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(msgspec.json.encode(data)).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


ID_TOKEN_DEFECTS = {
    "bad signature": lambda: sign(id_token_claims(), OTHER_KEY),
    "alg none": lambda: _unsigned(id_token_claims()),
    "wrong iss": lambda: sign(id_token_claims(iss="https://evil.example")),
    "wrong aud": lambda: sign(id_token_claims(aud="someone-else")),
    "several aud, no azp": lambda: sign(id_token_claims(aud=[CLIENT_ID, "other"])),
    "expired": lambda: sign(id_token_claims(exp=int(time.time()) - 600)),
    "wrong nonce": lambda: sign(id_token_claims(nonce="n-other")),
    "missing nonce": lambda: sign(id_token_claims(nonce=None)),
    "missing sub": lambda: sign(id_token_claims(sub=None)),
    "garbage": lambda: "not.a.jwt",
}


@pytest.mark.anyio
@pytest.mark.parametrize("defect", sorted(ID_TOKEN_DEFECTS))
async def test_id_token_defects_are_refused(rp: OidcRelyingParty, defect: str) -> None:
    with pytest.raises(OidcError):
        await rp.validate_id_token(ID_TOKEN_DEFECTS[defect](), nonce="n-123")


@pytest.mark.anyio
async def test_a_good_logout_token_is_accepted(rp: OidcRelyingParty) -> None:
    claims = await rp.validate_logout_token(sign(logout_claims(), header={"typ": "logout+jwt"}))
    assert claims["sid"] == "idp-session-1"


LOGOUT_DEFECTS = {
    "bad signature": lambda: sign(logout_claims(), OTHER_KEY),
    "alg none": lambda: _unsigned(logout_claims()),
    "wrong iss": lambda: sign(logout_claims(iss="https://evil.example")),
    "wrong aud": lambda: sign(logout_claims(aud="bff-mobile")),
    "stale iat": lambda: sign(logout_claims(iat=int(time.time()) - 3600, exp=None)),
    "neither sub nor sid": lambda: sign(logout_claims(sid=None)),
    "missing events": lambda: sign(logout_claims(events=None)),
    "wrong event": lambda: sign(logout_claims(events={"http://example/other": {}})),
    "a nonce": lambda: sign(logout_claims(nonce="n-1")),
    "missing jti": lambda: sign(logout_claims(jti=None)),
    "an ID token": lambda: sign(id_token_claims()),
    "wrong typ": lambda: sign(logout_claims(), header={"typ": "at+jwt"}),
}


@pytest.mark.anyio
@pytest.mark.parametrize("defect", sorted(LOGOUT_DEFECTS))
async def test_logout_token_defects_are_refused(rp: OidcRelyingParty, defect: str) -> None:
    with pytest.raises(OidcError):
        await rp.validate_logout_token(LOGOUT_DEFECTS[defect]())


@pytest.mark.anyio
async def test_a_rotated_provider_key_is_fetched_once(
    rp: OidcRelyingParty, provider: respx.MockRouter
) -> None:
    """A token signed with a new key id makes the client re-read the JWKS (key rotation)."""
    await rp.validate_id_token(sign(id_token_claims()), nonce="n-123")
    new_key = RSAKey.generate_key(2048, parameters={"kid": "k2", "alg": "RS256", "use": "sig"})
    provider.get("/jwks").respond(json=KeySet([KEY, new_key]).as_dict(private=False))
    rp.jwts._jwks_at -= 60  # past the minimum refresh interval
    token = jwt.encode({"alg": "RS256", "kid": "k2"}, id_token_claims(), new_key)
    assert (await rp.validate_id_token(token, nonce="n-123"))["sub"] == "alice"


@pytest.mark.anyio
async def test_missing_iss_parameter_is_refused_when_advertised(rp: OidcRelyingParty) -> None:
    with pytest.raises(OidcError):
        await rp.check_authorization_response_issuer(None)
    with pytest.raises(OidcError):
        await rp.check_authorization_response_issuer("https://evil.example")
    await rp.check_authorization_response_issuer(ISSUER)
