"""The dev IdP over real HTTP, driven the way the gateways drive it: as a confidential client
doing the code flow with PKCE (S256) and a nonce, checking tokens against the JWKS."""

from __future__ import annotations

import secrets
import signal
import threading
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import ClaimsOption, JWTClaimsRegistry, Token

from tests.fixtures.idp import IDP_TOKEN_MAX_AGE_S, IdpServer, StartIdp

CLIENT_ID = "bff-web"
CLIENT_SECRET = "web-secret"
# Never fetched: the tests read the IdP's redirects instead of following them.
REDIRECT_URI = "http://127.0.0.1:8000/bff/callback"
SCOPE = "openid profile email offline_access"
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


# --------------------------------------------------------------------------- relying-party helpers


@dataclass
class Login:
    """What a relying party holds after the authorization redirect."""

    redirect: httpx.URL
    code_verifier: str
    nonce: str
    state: str


@dataclass
class RelyingParty:
    """A confidential client, as each gateway is. ``http`` doubles as the user's browser, so the
    IdP's login-session cookie is kept between logins, as in a real browser."""

    idp: IdpServer
    http: httpx.Client
    client_id: str = CLIENT_ID

    @cached_property
    def metadata(self) -> dict[str, Any]:
        result: dict[str, Any] = self.http.get(self.idp.discovery_url).raise_for_status().json()
        return result

    @cached_property
    def jwks(self) -> KeySet:
        return KeySet.import_key_set(self.http.get(self.metadata["jwks_uri"]).json())

    def authorize(self, *, sub: str = "alice", pkce: bool = True) -> Login:
        """Submit the IdP's login form for ``sub`` and read the redirect (not followed)."""
        login = Login(
            redirect=httpx.URL(""),
            code_verifier=secrets.token_urlsafe(48),
            nonce=secrets.token_urlsafe(16),
            state=secrets.token_urlsafe(16),
        )
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": SCOPE,
            "state": login.state,
            "nonce": login.nonce,
        }
        if pkce:
            params["code_challenge"] = create_s256_code_challenge(login.code_verifier)
            params["code_challenge_method"] = "S256"
        response = self.http.post(
            self.metadata["authorization_endpoint"], params=params, data={"sub": sub}
        )
        assert response.status_code == 302, response.text
        login.redirect = httpx.URL(response.headers["location"])
        return login

    def token_request(self, **form: str) -> httpx.Response:
        return self.http.post(
            self.metadata["token_endpoint"], data=form, auth=(self.client_id, CLIENT_SECRET)
        )

    def exchange(self, login: Login) -> dict[str, Any]:
        response = self.token_request(
            grant_type="authorization_code",
            code=login.redirect.params["code"],
            redirect_uri=REDIRECT_URI,
            code_verifier=login.code_verifier,
        )
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    def log_in(self) -> tuple[Login, dict[str, Any]]:
        login = self.authorize()
        return login, self.exchange(login)

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.token_request(grant_type="refresh_token", refresh_token=refresh_token)

    def revoke(self, token: str, **form: str) -> httpx.Response:
        return self.http.post(
            self.metadata["revocation_endpoint"],
            data={"token": token, **form},
            auth=(self.client_id, CLIENT_SECRET),
        )

    def verify_jwt(self, value: str, **claims: ClaimsOption) -> Token:
        """Check the signature against the IdP's JWKS, then iss, exp and the given claims."""
        token = jwt.decode(value, self.jwks, algorithms=["RS256"])
        registry = JWTClaimsRegistry(
            now=None, leeway=0, iss={"essential": True, "value": self.idp.url}, **claims
        )
        registry.validate(token.claims)
        return token

    def verify_id_token(self, id_token: str, login: Login) -> Token:
        return self.verify_jwt(
            id_token,
            aud={"essential": True, "value": self.client_id},
            nonce={"essential": True, "value": login.nonce},
            sid={"essential": True},
        )


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def rp(idp: IdpServer, browser: httpx.Client) -> RelyingParty:
    return RelyingParty(idp, browser)


# --------------------------------------------------------------------------- back-channel receiver


@dataclass
class LogoutReceiver:
    """A tiny relying party back-channel: records ``(path, logout_token)`` per POST."""

    url: str
    deliveries: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
def logout_receiver() -> Iterator[LogoutReceiver]:
    receiver = LogoutReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            form = urllib.parse.parse_qs(body)
            receiver.deliveries.append((self.path, form["logout_token"][0]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --------------------------------------------------------------------------- tests


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
        "token_requests": {"authorization_code": 0, "refresh_token": 0},
        "revocations": 0,
    }
    _, tokens = rp.log_in()
    rotated = rp.refresh(tokens["refresh_token"]).json()
    rp.refresh(tokens["refresh_token"])  # rejected, still counted
    rp.revoke(rotated["refresh_token"])

    assert idp.stats() == {
        "token_requests": {"authorization_code": 1, "refresh_token": 2},
        "revocations": 1,
    }
    idp.reset_stats()
    assert idp.stats()["token_requests"] == {"authorization_code": 0, "refresh_token": 0}


def test_dev_logout_token_is_a_signed_back_channel_logout_token(rp: RelyingParty) -> None:
    """POST /_dev/logout-token gives a logout token signed with the IdP's JWKS key, typed
    logout+jwt, with iss, aud, iat, exp, jti, the logout event, sub and sid, and no nonce."""
    response = rp.http.post(
        f"{rp.idp.url}/_dev/logout-token",
        json={"client_id": CLIENT_ID, "sub": "alice", "sid": "s1"},
    )
    assert response.status_code == 200

    token = rp.verify_jwt(
        response.json()["logout_token"],
        aud={"essential": True, "value": CLIENT_ID},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
        sub={"essential": True, "value": "alice"},
        sid={"essential": True, "value": "s1"},
    )
    assert token.claims["events"] == {BACKCHANNEL_LOGOUT_EVENT: {}}
    assert token.header["typ"] == "logout+jwt"
    assert token.header["kid"]
    assert "nonce" not in token.claims


@pytest.mark.parametrize(
    "body",
    [{"sub": "alice"}, {"client_id": CLIENT_ID}, {"client_id": CLIENT_ID, "sid": 7}, ["x"]],
)
def test_dev_logout_token_needs_a_client_and_a_subject_or_session(
    rp: RelyingParty, body: object
) -> None:
    """Without client_id, or without sub or sid (as strings), the helper answers 400."""
    assert rp.http.post(f"{rp.idp.url}/_dev/logout-token", json=body).status_code == 400


def test_logout_with_id_token_hint_tells_each_client_of_the_session_and_redirects(
    start_idp: StartIdp, browser: httpx.Client, logout_receiver: LogoutReceiver
) -> None:
    """Two clients logged in from one browser share the IdP session's sid. RP-initiated logout
    with the ID token as hint POSTs a signed logout token for that sid to both clients'
    back-channel URIs (not to a configured client outside the session), then redirects to
    post_logout_redirect_uri with state. The next login starts a new session."""
    idp = start_idp(
        backchannel_logout_uris={
            "bff-web": f"{logout_receiver.url}/web",
            "bff-mobile": f"{logout_receiver.url}/mobile",
            "bff-other": f"{logout_receiver.url}/other",
        }
    )
    web = RelyingParty(idp, browser, client_id="bff-web")
    mobile = RelyingParty(idp, browser, client_id="bff-mobile")
    web_login, web_tokens = web.log_in()
    mobile_login, mobile_tokens = mobile.log_in()
    sid = web.verify_id_token(web_tokens["id_token"], web_login).claims["sid"]
    assert mobile.verify_id_token(mobile_tokens["id_token"], mobile_login).claims["sid"] == sid

    response = browser.get(
        web.metadata["end_session_endpoint"],
        params={
            "id_token_hint": web_tokens["id_token"],
            "post_logout_redirect_uri": "http://127.0.0.1:8000/logged-out",
            "state": "after-logout",
        },
    )

    assert response.status_code == 302
    assert response.headers["location"] == "http://127.0.0.1:8000/logged-out?state=after-logout"
    assert sorted(path for path, _ in logout_receiver.deliveries) == ["/mobile", "/web"]
    for path, logout_token in logout_receiver.deliveries:
        token = web.verify_jwt(
            logout_token,
            aud={"essential": True, "value": "bff-" + path.removeprefix("/")},
            iat={"essential": True},
            exp={"essential": True},
            jti={"essential": True},
            sid={"essential": True, "value": sid},
            sub={"essential": True, "value": "alice"},
        )
        assert token.claims["events"] == {BACKCHANNEL_LOGOUT_EVENT: {}}
        assert token.header["typ"] == "logout+jwt"
        assert "nonce" not in token.claims

    next_login, next_tokens = web.log_in()
    assert web.verify_id_token(next_tokens["id_token"], next_login).claims["sid"] != sid


def test_logout_without_hint_asks_first_then_ends_the_browser_session(
    start_idp: StartIdp, browser: httpx.Client, logout_receiver: LogoutReceiver
) -> None:
    """Without id_token_hint the IdP shows its confirmation page and nothing happens yet;
    confirming ends this browser's session, with a back-channel logout for it."""
    idp = start_idp(backchannel_logout_uris={"bff-web": f"{logout_receiver.url}/web"})
    web = RelyingParty(idp, browser, client_id="bff-web")
    login, tokens = web.log_in()
    sid = web.verify_id_token(tokens["id_token"], login).claims["sid"]

    page = browser.get(web.metadata["end_session_endpoint"])
    assert page.status_code == 200
    assert "<form" in page.text
    assert logout_receiver.deliveries == []

    assert browser.post(f"{idp.url}/oauth2/end_session/confirm").status_code == 200
    [(path, logout_token)] = logout_receiver.deliveries
    assert path == "/web"
    web.verify_jwt(logout_token, sid={"essential": True, "value": sid})


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
