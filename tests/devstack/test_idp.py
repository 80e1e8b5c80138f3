"""The dev IdP over real HTTP, driven the way the gateways drive it: as a confidential client
doing the code flow with PKCE (S256) and a nonce, checking tokens against the JWKS."""

from __future__ import annotations

import secrets
import signal
from concurrent.futures import ThreadPoolExecutor

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.devstack.idp_support import (
    CLIENT_ID,
    REDIRECT_URI,
    SCOPE,
    RelyingParty,
    browser,
    rp,
)
from tests.fixtures.idp import IDP_TOKEN_MAX_AGE_S, StartIdp

__all__ = ["browser", "rp"]  # fixtures, used by name


def test_discovery_advertises_what_the_gateways_rely_on(rp: RelyingParty) -> None:
    """Discovery names the issuer by the origin it was asked on, and advertises revocation,
    RFC 9207 ``iss``, PKCE S256, back-channel logout with sessions and RP-initiated logout."""
    metadata = rp.metadata

    assert metadata["issuer"] == rp.idp.url
    for endpoint in ("revocation_endpoint", "end_session_endpoint", "jwks_uri", "token_endpoint"):
        assert metadata[endpoint].startswith(f"{rp.idp.url}/")
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert "refresh_token" in metadata["grant_types_supported"]


def test_login_form_offers_the_seeded_user(rp: RelyingParty) -> None:
    """A browser that opens the authorization URL gets the mock's login form, offering alice."""
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "code_challenge": create_s256_code_challenge(secrets.token_urlsafe(48)),
        "code_challenge_method": "S256",
    }
    response = rp.http.get(rp.metadata["authorization_endpoint"], params=params)

    assert response.status_code == 200
    assert "<form" in response.text
    assert "alice" in response.text


def test_code_flow_with_pkce_and_nonce_gives_verifiable_tokens_with_sid(rp: RelyingParty) -> None:
    """The redirect carries code, state and iss; the code buys short-lived access, a refresh
    token and an ID token signed with a JWKS key, with nonce, sid and the user's claims."""
    login = rp.authorize()

    assert str(login.redirect).startswith(REDIRECT_URI)
    assert login.redirect.params["state"] == login.state
    assert login.redirect.params["iss"] == rp.idp.url

    tokens = rp.exchange(login)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == IDP_TOKEN_MAX_AGE_S
    assert tokens["refresh_token"]

    id_token = rp.verify_id_token(tokens["id_token"], login)
    assert id_token.header["kid"]
    assert id_token.claims["sub"] == "alice"
    assert id_token.claims["name"] == "Alice Example"
    assert id_token.claims["email"] == "alice@example.com"


def test_wrong_code_verifier_is_rejected(rp: RelyingParty) -> None:
    """PKCE is verified: a code redeemed with another verifier gets invalid_grant."""
    login = rp.authorize()
    login.code_verifier = secrets.token_urlsafe(48)

    response = rp.token_request(
        grant_type="authorization_code",
        code=login.redirect.params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=login.code_verifier,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_authorization_without_pkce_is_refused_with_iss(rp: RelyingParty) -> None:
    """PKCE is required; the error goes back to the client, and carries iss like any response."""
    login = rp.authorize(pkce=False)

    assert login.redirect.params["error"] == "invalid_request"
    assert login.redirect.params["state"] == login.state
    assert login.redirect.params["iss"] == rp.idp.url


def test_refresh_rotates_the_refresh_token(rp: RelyingParty) -> None:
    """A refresh returns a new access and refresh token (same short lifetime); the old refresh
    token is then rejected with invalid_grant, and the new one works."""
    _, tokens = rp.log_in()

    first = rp.refresh(tokens["refresh_token"])
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["access_token"] != tokens["access_token"]
    assert rotated["expires_in"] == IDP_TOKEN_MAX_AGE_S

    reused = rp.refresh(tokens["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"

    assert rp.refresh(rotated["refresh_token"]).status_code == 200


def test_concurrent_refreshes_with_one_token_let_exactly_one_through(rp: RelyingParty) -> None:
    """Rotation is atomic: of several simultaneous refreshes with one token, one succeeds."""
    _, tokens = rp.log_in()

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: rp.refresh(tokens["refresh_token"]), range(4)))

    assert sorted(response.status_code for response in responses) == [200, 400, 400, 400]


def test_revoked_refresh_token_no_longer_refreshes(rp: RelyingParty) -> None:
    """RFC 7009: revoking a refresh token answers 200 and really removes it (and its access
    token); revoking an unknown token also answers 200."""
    _, tokens = rp.log_in()

    assert rp.revoke(tokens["refresh_token"], token_type_hint="refresh_token").status_code == 200

    refused = rp.refresh(tokens["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    userinfo = rp.http.get(
        rp.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert userinfo.status_code != 200  # the mock says 400 access_denied, not RFC 6750's 401
    assert rp.revoke("no-such-token").status_code == 200


def test_another_client_cannot_revoke_a_token(rp: RelyingParty) -> None:
    """A token is only revoked for the client it was issued to."""
    _, tokens = rp.log_in()

    RelyingParty(rp.idp, rp.http, client_id="someone-else").revoke(tokens["refresh_token"])

    assert rp.refresh(tokens["refresh_token"]).status_code == 200


def test_stats_count_token_requests_by_grant_and_revocations(rp: RelyingParty) -> None:
    """/_stats counts every token request by grant type (failed ones too) and every revocation;
    DELETE /_stats resets them."""
    idp = rp.idp
    assert idp.stats() == {
        "token_requests": {"authorization_code": 0, "refresh_token": 0, "client_credentials": 0},
        "revocations": 0,
        "userinfo_requests": 0,
        "client_assertions": 0,
    }
    _, tokens = rp.log_in()
    rotated = rp.refresh(tokens["refresh_token"]).json()
    rp.refresh(tokens["refresh_token"])  # rejected, still counted
    rp.revoke(rotated["refresh_token"])

    assert idp.stats() == {
        "token_requests": {"authorization_code": 1, "refresh_token": 2, "client_credentials": 0},
        "revocations": 1,
        "userinfo_requests": 0,
        "client_assertions": 0,
    }
    idp.reset_stats()
    assert idp.stats()["token_requests"] == {
        "authorization_code": 0,
        "refresh_token": 0,
        "client_credentials": 0,
    }


def test_the_client_credentials_grant_gives_a_client_its_own_token(rp: RelyingParty) -> None:
    """A client's own token (no user, no refresh token), counted by its grant type; the mock
    alone does not have this grant."""
    response = rp.http.post(
        rp.metadata["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "partner:read"},
        auth=(rp.client_id, "any-secret"),
    )
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["access_token"]
    assert token["token_type"] == "Bearer"
    assert "refresh_token" not in token
    assert "id_token" not in token
    assert rp.idp.stats()["token_requests"]["client_credentials"] == 1


def test_werkzeug_debugger_is_not_exposed(rp: RelyingParty) -> None:
    """The mock turns on werkzeug's debugger; here its resources are not served."""
    response = rp.http.get(
        rp.metadata["jwks_uri"],
        params={"__debugger__": "yes", "cmd": "resource", "f": "debugger.js"},
    )

    assert response.headers["content-type"].startswith("application/json")
    assert "keys" in response.json()


def test_sigterm_stops_the_idp_cleanly(start_idp: StartIdp) -> None:
    """SIGTERM shuts the server down and the process exits with status 0."""
    idp = start_idp()

    idp.process.send_signal(signal.SIGTERM)

    assert idp.process.wait(10) == 0
    assert "dev IdP ready at" in idp.log_path.read_text()


def test_app_factory_works_in_process_without_warnings() -> None:
    """create_idp_app can be imported and served in a test process (warnings are errors here),
    with the debugger off and a revocation endpoint in its discovery document."""
    from devstack.idp import create_idp_app

    app = create_idp_app(access_token_ttl=5, backchannel_logout_uris={"bff-web": "http://x/"})

    assert app.debug is False
    metadata = app.test_client().get("/.well-known/openid-configuration").get_json()
    assert metadata["revocation_endpoint"] == "http://localhost/oauth2/revoke"
