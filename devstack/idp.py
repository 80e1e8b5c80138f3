"""The development OpenID provider: ``oidc-provider-mock`` (Flask + authlib), extended.

The gateways must be tested against a real provider, not one written for them, so this module
only wraps the mock; it swaps in subclasses of the mock's authlib grants and wraps a few of its
Flask views. What it adds, and why:

* refresh-token rotation: a refresh returns a new refresh token and the old one stops working
  at once (the old one is claimed atomically, so two racing refreshes cannot both succeed);
  refreshed access tokens get the same short lifetime as the first ones;
* PKCE with ``S256`` is required and verified (the gateways always send it; a gateway that
  stops doing so fails its tests instead of passing against a lax IdP);
* ``POST /oauth2/revoke``: RFC 7009 revocation (authlib's ``RevocationEndpoint``);
* RFC 9207: every redirect from the authorization endpoint carries ``iss``;
* IdP login sessions: a login sets a cookie naming the session; the ID token carries its ``sid``,
  and a second login from the same browser (for example, the other gateway) joins it;
* OIDC Back-Channel Logout 1.0: ending a session at ``end_session_endpoint`` POSTs a signed
  logout token to every configured client that took part in it. A valid ``id_token_hint`` ends
  the session at once and redirects to ``post_logout_redirect_uri``; without one, the mock's
  confirmation page is shown;
* test helpers: ``POST /_dev/logout-token`` and call counters at ``GET``/``DELETE /_stats``;
* no werkzeug debugger (the mock enables it; it would run code for anyone who can reach it).

Any client id and secret are accepted (the mock's default) and the seeded user is ``alice``.

The issuer is the origin a request is addressed to (the mock builds it from the scheme and
``Host`` header). Discovery, ID tokens, the ``iss`` response parameter and logout tokens all use
it, so a gateway must reach the IdP by the same origin as its users' browsers do: exactly the
``BFF_OIDC_ISSUER`` it is configured with (``http://127.0.0.1:9400`` in ``bff dev``).

This builds on the mock's internals (its grant classes, storage and view names), so it is tied
to ``oidc-provider-mock`` 0.3.x. The mock and authlib ship no type information, so subclassing
their classes needs a ``type: ignore[misc]`` each.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from http import HTTPStatus
from types import FrameType
from typing import Any, Literal, cast

import flask
import httpx
import werkzeug.debug
import werkzeug.serving
from authlib.common.urls import add_params_to_uri
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask.typing import ResponseReturnValue
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from shared.platform.logging import get_logger

with warnings.catch_warnings():
    # The mock imports authlib.jose and authlib's httpx integration, which authlib deprecates
    # with a warning at import. Only the mock can act on it; here it would be noise on every
    # start, and an error wherever warnings are errors (the test suite).
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    import oidc_provider_mock
    from oidc_provider_mock import _app as mock_app
    from oidc_provider_mock import _storage as mock_storage

__all__ = ["TEST_USER", "create_idp_app", "main"]

logger = get_logger("devstack.idp")  # not __main__ under python -m

#: The seeded user: tests and people log in by entering this ``sub`` at the IdP's form.
TEST_USER: Mapping[str, object] = {
    "sub": "alice",
    "name": "Alice Example",
    "given_name": "Alice",
    "family_name": "Example",
    "email": "alice@example.com",
    "email_verified": True,
}

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_LIFETIME_S = 120
BACKCHANNEL_DELIVERY_TIMEOUT_S = 5.0
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
SIGNING_ALG = "RS256"

_MOCK = "oidc-provider-mock"  # the mock's blueprint name, the prefix of its endpoint names
_EXTENSION = "dev_idp"
_SESSION_SID_KEY = "dev_idp_sid"


# --------------------------------------------------------------------------- login sessions


@dataclass
class LoginSession:
    """One login of one user in one browser: what ``sid`` names and what logout ends."""

    sid: str
    sub: str
    auth_time: int
    client_ids: set[str] = field(default_factory=set)


class LoginSessions:
    """The IdP's live login sessions, by ``sid`` (thread-safe: the server is threaded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_sid: dict[str, LoginSession] = {}

    def join(self, sid: str | None, sub: str, client_id: str) -> LoginSession:
        """The session ``sid`` if it is live and ``sub``'s, else a new one; records the client."""
        with self._lock:
            session = self._by_sid.get(sid) if sid else None
            if session is None or session.sub != sub:
                session = LoginSession(
                    sid=secrets.token_urlsafe(16), sub=sub, auth_time=int(time.time())
                )
                self._by_sid[session.sid] = session
            session.client_ids.add(client_id)
            return session

    def end(self, sid: str) -> LoginSession | None:
        with self._lock:
            return self._by_sid.pop(sid, None)


# --------------------------------------------------------------------------- counters


class Stats:
    """What ``/_stats`` reports: every token-endpoint request by grant type, and revocations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token_requests: Counter[str] = Counter()
        self._revocations = 0

    def count_token_request(self, grant_type: str) -> None:
        with self._lock:
            self._token_requests[grant_type] += 1

    def count_revocation(self) -> None:
        with self._lock:
            self._revocations += 1

    def reset(self) -> None:
        with self._lock:
            self._token_requests.clear()
            self._revocations = 0

    def as_json(self) -> dict[str, object]:
        with self._lock:
            token_requests = {"authorization_code": 0, "refresh_token": 0}
            token_requests.update(self._token_requests)
            return {"token_requests": token_requests, "revocations": self._revocations}


# --------------------------------------------------------------------------- per-app state

MockView = Callable[[], ResponseReturnValue]  # the mock's views are synchronous


@dataclass
class DevIdp:
    """Everything the extensions share, kept in ``app.extensions`` (no module globals)."""

    storage: Any  # the mock's Storage
    server: Any  # the mock's authlib AuthorizationServer
    signing_key: RSAKey  # the mock's key, the one its JWKS publishes
    backchannel_logout_uris: Mapping[str, str]
    mock_views: Mapping[str, MockView]  # the mock's views that are wrapped here, by name
    sessions: LoginSessions = field(default_factory=LoginSessions)
    stats: Stats = field(default_factory=Stats)


def _idp() -> DevIdp:
    return cast(DevIdp, flask.current_app.extensions[_EXTENSION])


def _issuer() -> str:
    """The issuer, derived from the request exactly as the mock does it."""
    return flask.request.host_url.rstrip("/")


# --------------------------------------------------------------------------- grants and endpoints


@dataclass(kw_only=True, frozen=True)
class SessionAuthorizationCode(mock_storage.AuthorizationCode):  # type: ignore[misc]
    """The mock's authorization code plus what it does not keep: login session and PKCE."""

    sid: str
    auth_time: int
    code_challenge: str | None
    code_challenge_method: str | None

    def get_auth_time(self) -> int:
        return self.auth_time


class AuthorizationCodeGrant(mock_app.AuthorizationCodeGrant):  # type: ignore[misc]
    """Binds each code to the browser's login session (joined or started here) and PKCE data."""

    def save_authorization_code(self, code: str, request: Any) -> None:
        idp = _idp()
        client_id: str = request.client.get_client_id()
        session = idp.sessions.join(
            flask.session.get(_SESSION_SID_KEY), request.user.sub, client_id
        )
        flask.session[_SESSION_SID_KEY] = session.sid
        data = request.payload.data
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
            )
        )


class OpenIDCode(mock_app.OpenIDCode):  # type: ignore[misc]
    """ID tokens get ``sid`` (for back-channel logout) and ``kid`` (so RPs pick the JWKS key).

    Key, algorithm and claims come through authlib's current hooks rather than the mock's
    ``get_jwt_config``, which authlib deprecates with a warning on every token.
    """

    def __init__(self, *, require_nonce: bool, token_max_age: timedelta) -> None:
        super().__init__(require_nonce=require_nonce, token_max_age=token_max_age)
        self._lifetime_s = int(token_max_age.total_seconds())

    def resolve_client_private_key(self, client: Any) -> RSAKey:
        return _idp().signing_key

    def get_client_algorithm(self, client: Any) -> str:
        return SIGNING_ALG

    def get_client_claims(self, client: Any) -> dict[str, object]:
        # authlib adds aud (the client), iat and auth_time.
        return {"iss": _issuer(), "exp": int(time.time()) + self._lifetime_s}

    def get_encode_header(self, client: Any) -> dict[str, object]:
        return {"alg": SIGNING_ALG, "kid": _idp().signing_key.kid}

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
        if _idp().storage.remove_refresh_token(self.request.refresh_token.token) is None:
            raise InvalidGrantError("The refresh token has already been used.")
        return super().create_token_response()


@dataclass(frozen=True)
class RevocableToken:
    """A token found for revocation. The mock's access tokens do not know their client, so the
    client is taken from the refresh token issued with them."""

    value: str
    kind: Literal["access_token", "refresh_token"]
    client_id: str

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)


class TokenRevocationEndpoint(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009 over the mock's storage; revoking a refresh token also drops its access token."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> RevocableToken | None:
        # The hint only speeds up a search (RFC 7009 section 2.1); token strings are unique.
        storage = _idp().storage
        refresh_token = storage.get_refresh_token(token_string)
        if refresh_token is not None:
            return RevocableToken(token_string, "refresh_token", refresh_token.client_id)
        for refresh_token in storage.refresh_tokens():
            if refresh_token.access_token == token_string:
                return RevocableToken(token_string, "access_token", refresh_token.client_id)
        return None

    def revoke_token(self, token: RevocableToken, request: Any) -> None:
        storage = _idp().storage
        if token.kind == "refresh_token":
            removed = storage.remove_refresh_token(token.value)
            if removed is not None:
                storage.remove_access_token(removed.access_token)
        else:
            storage.remove_access_token(token.value)


# --------------------------------------------------------------------------- logout tokens


def make_logout_token(
    idp: DevIdp, *, issuer: str, client_id: str, sub: str | None, sid: str | None
) -> str:
    """A signed OIDC Back-Channel Logout token for ``client_id`` (at least one of sub/sid)."""
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_LIFETIME_S,
        "jti": secrets.token_urlsafe(16),
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    if sub:
        claims["sub"] = sub
    if sid:
        claims["sid"] = sid
    header = {"alg": SIGNING_ALG, "kid": idp.signing_key.kid, "typ": "logout+jwt"}
    return jwt.encode(header, claims, idp.signing_key, algorithms=[SIGNING_ALG])


def _end_login_session(idp: DevIdp, sid: str) -> None:
    """End one login session and tell each of its clients that has a back-channel URI.

    Delivery is synchronous, so by the time the browser is redirected back to the client, the
    client has ended its session. A failed delivery is logged, not retried (spec section 2.7).
    """
    session = idp.sessions.end(sid)
    if session is None:
        return
    for client_id in sorted(session.client_ids):
        uri = idp.backchannel_logout_uris.get(client_id)
        if uri is None:
            continue
        token = make_logout_token(
            idp, issuer=_issuer(), client_id=client_id, sub=session.sub, sid=sid
        )
        try:
            response = httpx.post(
                uri, data={"logout_token": token}, timeout=BACKCHANNEL_DELIVERY_TIMEOUT_S
            )
            logger.info(
                "backchannel_logout_sent",
                client_id=client_id,
                uri=uri,
                status=response.status_code,
            )
        except httpx.HTTPError as exc:
            logger.warning(
                "backchannel_logout_failed", client_id=client_id, uri=uri, error=repr(exc)
            )


def _verify_id_token_hint(idp: DevIdp, hint: str) -> dict[str, Any] | None:
    """The hint's claims if this IdP signed it for this issuer; expiry is deliberately not
    checked (RP-Initiated Logout 1.0 section 2: an expired ID token is a valid hint)."""
    try:
        token = jwt.decode(hint, idp.signing_key, algorithms=[SIGNING_ALG])
    except (JoseError, ValueError):
        return None
    if token.claims.get("iss") != _issuer() or not token.claims.get("sub"):
        return None
    return token.claims


# --------------------------------------------------------------------------- views


blueprint = flask.Blueprint("dev-idp", __name__)


def discovery() -> ResponseReturnValue:
    """The mock's discovery document plus the features added here."""
    response = _idp().mock_views["openid_config"]()
    metadata = cast(flask.Response, response).get_json()
    metadata.update(
        {
            "revocation_endpoint": flask.url_for("dev-idp.revoke", _external=True),
            "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        }
    )
    return flask.jsonify(metadata)


def token() -> ResponseReturnValue:
    """The mock's token endpoint, counted (attempts, whether or not they succeed)."""
    idp = _idp()
    grant_type = flask.request.form.get("grant_type")
    if grant_type:
        idp.stats.count_token_request(grant_type)
    return idp.mock_views["issue_token"]()


def end_session() -> ResponseReturnValue:
    """RP-initiated logout. A valid ``id_token_hint`` proves which client asks and which
    session to end, so the session ends without a confirmation page; anything else gets the
    mock's page, whose button ends the browser's session (see ``end_session_confirm``)."""
    idp = _idp()
    hint = flask.request.values.get("id_token_hint")
    claims = _verify_id_token_hint(idp, hint) if hint else None
    if claims is None:
        return idp.mock_views["end_session"]()

    sid = claims.get("sid")
    if isinstance(sid, str):
        if flask.session.get(_SESSION_SID_KEY) == sid:
            flask.session.pop(_SESSION_SID_KEY)
        _end_login_session(idp, sid)

    redirect_uri = flask.request.values.get("post_logout_redirect_uri")
    if not redirect_uri:
        return flask.render_template("end_session_confirm.html", session_ended=True)
    state = flask.request.values.get("state")
    if state is not None:
        redirect_uri = add_params_to_uri(redirect_uri, [("state", state)])
    return flask.redirect(redirect_uri)


def end_session_confirm() -> ResponseReturnValue:
    """The mock's confirmation button: ends the login session this browser holds."""
    idp = _idp()
    sid = flask.session.pop(_SESSION_SID_KEY, None)
    if isinstance(sid, str):
        _end_login_session(idp, sid)
    return idp.mock_views["end_session_confirm"]()


def add_issuer_to_authorization_response(response: flask.Response) -> flask.Response:
    """RFC 9207: every redirect back from the authorization endpoint, errors included, says
    which issuer sent it. The mock builds these responses itself, outside authlib's hook."""
    if flask.request.endpoint == f"{_MOCK}.authorize" and response.location:
        response.location = add_params_to_uri(response.location, [("iss", _issuer())])
    return response


@blueprint.post("/oauth2/revoke")
def revoke() -> ResponseReturnValue:
    """RFC 7009 token revocation."""
    idp = _idp()
    idp.stats.count_revocation()
    return cast(ResponseReturnValue, idp.server.create_endpoint_response("revocation"))


@blueprint.post("/_dev/logout-token")
def dev_logout_token() -> ResponseReturnValue:
    """``{client_id, sub?, sid?}`` -> ``{"logout_token": ...}`` signed with the IdP's key, so a
    test can deliver a logout token itself."""
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        return {"error": "expected a JSON object"}, HTTPStatus.BAD_REQUEST
    client_id, sub, sid = body.get("client_id"), body.get("sub"), body.get("sid")
    if not isinstance(client_id, str) or not client_id:
        return {"error": "client_id (a string) is required"}, HTTPStatus.BAD_REQUEST
    if not all(value is None or isinstance(value, str) for value in (sub, sid)) or not (sub or sid):
        return {"error": "sub or sid (strings) is required"}, HTTPStatus.BAD_REQUEST
    token = make_logout_token(_idp(), issuer=_issuer(), client_id=client_id, sub=sub, sid=sid)
    return {"logout_token": token}


@blueprint.get("/_stats")
def get_stats() -> ResponseReturnValue:
    return _idp().stats.as_json()


@blueprint.delete("/_stats")
def reset_stats() -> ResponseReturnValue:
    _idp().stats.reset()
    return "", HTTPStatus.NO_CONTENT


# --------------------------------------------------------------------------- app factory


def create_idp_app(
    *,
    access_token_ttl: int = 300,
    backchannel_logout_uris: Mapping[str, str] | None = None,
    users: Sequence[Mapping[str, object]] = (TEST_USER,),
) -> flask.Flask:
    """The mock's Flask app with the extensions described in the module docstring.

    ``access_token_ttl`` (seconds) is the lifetime of access and ID tokens, first and refreshed.
    ``backchannel_logout_uris`` maps client ids to their back-channel logout URIs. ``users`` are
    claim sets (each with ``sub``) that can log in with one click.

    Served over plain http on a non-loopback host, authlib needs AUTHLIB_INSECURE_TRANSPORT=1
    (``main`` sets it); on 127.0.0.1 and localhost it is not needed.
    """
    ttl = timedelta(seconds=access_token_ttl)
    app: flask.Flask = oidc_provider_mock.app(
        access_token_max_age=ttl,
        user_claims=[
            oidc_provider_mock.User(
                sub=str(user["sub"]), claims={k: v for k, v in user.items() if k != "sub"}
            )
            for user in users
        ],
    )
    _remove_debugger(app)
    app.config["SESSION_COOKIE_NAME"] = "dev_idp_session"

    storage, server = _mock_storage_and_server(app)
    # The mock sets a lifetime for codes' first tokens only; authlib's default for refreshed
    # ones is an hour. load_config rebuilds the token generator from the config.
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "authorization_code": access_token_ttl,
        "refresh_token": access_token_ttl,
    }
    server.load_config(app.config)
    # authlib has no call to unregister a grant; replace the mock's with the subclasses above.
    server._authorization_grants.clear()
    server._token_grants.clear()
    server.register_grant(
        AuthorizationCodeGrant,
        [OpenIDCode(require_nonce=False, token_max_age=ttl), RequiredS256CodeChallenge()],
    )
    server.register_grant(RotatingRefreshTokenGrant)
    server.register_endpoint(TokenRevocationEndpoint)

    mock_views = {
        name: cast(MockView, app.view_functions[f"{_MOCK}.{name}"])
        for name in ("openid_config", "issue_token", "end_session", "end_session_confirm")
    }
    app.view_functions[f"{_MOCK}.openid_config"] = discovery
    app.view_functions[f"{_MOCK}.issue_token"] = token
    app.view_functions[f"{_MOCK}.end_session"] = end_session
    app.view_functions[f"{_MOCK}.end_session_confirm"] = end_session_confirm
    app.after_request(add_issuer_to_authorization_response)
    app.register_blueprint(blueprint)

    app.extensions[_EXTENSION] = DevIdp(
        storage=storage,
        server=server,
        signing_key=RSAKey.import_key(storage.jwk.as_dict(is_private=True)),
        backchannel_logout_uris=dict(backchannel_logout_uris or {}),
        mock_views=mock_views,
    )
    return app


def _remove_debugger(app: flask.Flask) -> None:
    """The mock wraps the app in werkzeug's debugger; unwrap it and leave debug mode."""
    wrapped: object = app.wsgi_app
    if isinstance(wrapped, werkzeug.debug.DebuggedApplication):
        app.wsgi_app = wrapped.app  # type: ignore[method-assign,assignment]
    app.debug = False


def _mock_storage_and_server(app: flask.Flask) -> tuple[Any, Any]:
    """The mock creates its storage and authlib server when its blueprint is registered and
    hands them out only through ``flask.g`` per request; run its request set-up once to get them."""
    with app.test_request_context():
        app.preprocess_request()
        return flask.g.oidc_provider_mock_storage, flask.g._authlib_authorization_server


# --------------------------------------------------------------------------- process


def _client_uri_pair(value: str) -> tuple[str, str]:
    client_id, sep, uri = value.partition("=")
    if not sep or not client_id or not uri.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected CLIENT_ID=http(s)://URI, got {value!r}")
    return client_id, uri


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {value}")
    return number


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.idp", description="The development OpenID provider."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9400)
    parser.add_argument(
        "--token-max-age",
        type=_positive_int,
        default=300,
        help="lifetime of access and ID tokens in seconds (default 300)",
    )
    parser.add_argument(
        "--backchannel-logout-uri",
        type=_client_uri_pair,
        action="append",
        default=[],
        metavar="CLIENT_ID=URI",
        help="where to POST logout tokens for a client (repeatable)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the dev IdP until SIGTERM or SIGINT; prints one line once it accepts connections.

    The server is werkzeug's threaded one, as in the mock's own test helper: the mock is a WSGI
    app, and uvicorn's WSGI mode (the mock's command line) is deprecated by uvicorn. Call this
    from the main thread (it installs signal handlers).
    """
    args = _parse_args(argv)
    # Dev only: allow plain http on any host, as the mock's own command line does.
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    app = create_idp_app(
        access_token_ttl=args.token_max_age,
        backchannel_logout_uris=dict(args.backchannel_logout_uri),
    )
    # werkzeug reports a port in use or an unknown host itself, and exits with status 1.
    server = werkzeug.serving.make_server(args.host, args.port, app, threaded=True)

    def stop(signum: int, _frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever(), which runs on this thread: ask from another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    print(
        f"dev IdP ready at http://{args.host}:{server.server_port} "
        f"(issuer = the origin you call it by; test user: {TEST_USER['sub']})",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
