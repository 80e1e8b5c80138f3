"""A relying party for the dev IdP tests, driven the way the gateways drive the IdP: a
confidential client doing the code flow with PKCE (S256) and a nonce, checking tokens against the
JWKS; and a tiny back-channel logout receiver."""

from __future__ import annotations

import secrets
import threading
import urllib.parse
from collections.abc import Iterator
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

from tests.fixtures.idp import IdpServer

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

    def authorize(self, *, sub: str = "alice", pkce: bool = True, **extra: str) -> Login:
        """Submit the IdP's login form for ``sub`` and read the redirect (not followed);
        ``extra`` are more authorization parameters (``prompt``, ``max_age``)."""
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
            **extra,
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

    def log_in(self, *, sub: str = "alice", **extra: str) -> tuple[Login, dict[str, Any]]:
        login = self.authorize(sub=sub, **extra)
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
