"""The mock's authlib grants, subclassed: codes bound to the browser's login session and its PKCE
data (``prompt=login`` and an exceeded ``max_age`` renew the session's ``auth_time``), ID tokens
with ``sid``, ``kid`` and ``auth_time``, PKCE ``S256`` required, refresh-token rotation, and the
client-credentials grant the mock lacks (a gateway's own token for a remote API)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant as _ClientCredentialsGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from joserfc.jwk import RSAKey

from devstack.idp.mock import mock_app, mock_storage
from devstack.idp.state import (
    CLIENT_AUTH_METHODS,
    SESSION_SID_KEY,
    SIGNING_ALG,
    current_idp,
    request_issuer,
)


@dataclass(kw_only=True, frozen=True)
class SessionAuthorizationCode(mock_storage.AuthorizationCode):  # type: ignore[misc]
    """The mock's authorization code plus what it does not keep: login session and PKCE."""

    sid: str
    auth_time: int
    code_challenge: str | None
    code_challenge_method: str | None
    dpop_jkt: str | None = None
    """RFC 9449 section 10: the key the code may only be redeemed with."""

    def get_auth_time(self) -> int:
        return self.auth_time


class AuthorizationCodeGrant(mock_app.AuthorizationCodeGrant):  # type: ignore[misc]
    """Binds each code to the browser's login session (joined or started here) and PKCE data."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def save_authorization_code(self, code: str, request: Any) -> None:
        idp = current_idp()
        client_id: str = request.client.get_client_id()
        data = request.payload.data
        session = idp.sessions.join(
            flask.session.get(SESSION_SID_KEY),
            request.user.sub,
            client_id,
            prompt_login="login" in str(data.get("prompt") or "").split(),
            max_age=_max_age(data.get("max_age")),
        )
        flask.session[SESSION_SID_KEY] = session.sid
        idp.storage.store_authorization_code(
            SessionAuthorizationCode(
                code=code,
                user_id=request.user.sub,
                client_id=client_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.payload.scope,
                nonce=data.get("nonce"),
                sid=session.sid,
                auth_time=session.auth_time,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                dpop_jkt=data.get("dpop_jkt"),
            )
        )


def _max_age(value: object) -> int | None:
    """The request's ``max_age`` in seconds; anything that is not a whole number is ignored."""
    text = str(value) if value is not None else ""
    return int(text) if text.isascii() and text.isdigit() else None


class OpenIDCode(mock_app.OpenIDCode):  # type: ignore[misc]
    """ID tokens get ``sid`` (for back-channel logout) and ``kid`` (so RPs pick the JWKS key).

    Key, algorithm and claims come through authlib's current hooks rather than the mock's
    ``get_jwt_config``, which authlib deprecates with a warning on every token.
    """

    def __init__(self, *, require_nonce: bool, token_max_age: timedelta) -> None:
        super().__init__(require_nonce=require_nonce, token_max_age=token_max_age)
        self._lifetime_s = int(token_max_age.total_seconds())

    def resolve_client_private_key(self, client: Any) -> RSAKey:
        return current_idp().signing_key

    def get_client_algorithm(self, client: Any) -> str:
        return SIGNING_ALG

    def get_client_claims(self, client: Any) -> dict[str, object]:
        # authlib adds aud (the client), iat and auth_time.
        return {"iss": request_issuer(), "exp": int(time.time()) + self._lifetime_s}

    def get_encode_header(self, client: Any) -> dict[str, object]:
        return {"alg": SIGNING_ALG, "kid": current_idp().signing_key.kid}

    def get_authorization_code_claims(self, authorization_code: Any) -> dict[str, object]:
        claims: dict[str, object] = super().get_authorization_code_claims(authorization_code)
        claims["sid"] = authorization_code.sid
        return claims


class RequiredS256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE for every client, ``S256`` only (authlib's default also allows ``plain``)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE is required: send code_challenge_method=S256")
        super().validate_code_challenge(grant, redirect_uri)


class RotatingRefreshTokenGrant(mock_app.RefreshTokenGrant):  # type: ignore[misc]
    """Each refresh returns a new refresh token; the old one stops working."""

    INCLUDE_NEW_REFRESH_TOKEN = True
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def create_token_response(self) -> Any:
        # Taking the old token out of storage first is atomic (dict.pop), so of two concurrent
        # refreshes with one token exactly one wins. The mock's revoke_old_credential, run by
        # authlib after the new token is saved, then drops the old access token.
        if current_idp().storage.remove_refresh_token(self.request.refresh_token.token) is None:
            raise InvalidGrantError("The refresh token has already been used.")
        return super().create_token_response()


class ClientCredentialsGrant(_ClientCredentialsGrant):  # type: ignore[misc]
    """RFC 6749 4.4 for every client (the mock's clients list only the code and refresh grants),
    by any of the client authentication methods. The token is stored for the client itself, as
    the mock stores a user's, so revocation and expiry work the same; the scopes are whatever
    was asked (the dev IdP has no resource registry to check them against)."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_token_request(self) -> None:
        self.request.client = self.authenticate_token_endpoint_client()

    def create_token_response(self) -> Any:
        scope = self.request.payload.scope or ""
        token = self.generate_token(scope=scope, include_refresh_token=False)
        current_idp().storage.store_access_token(
            mock_storage.AccessToken(
                token=token["access_token"],
                user_id=self.request.client.get_client_id(),
                scope=scope,
                expires_at=datetime.now(UTC) + timedelta(seconds=token["expires_in"]),
            )
        )
        return 200, token, self.TOKEN_RESPONSE_HEADER
