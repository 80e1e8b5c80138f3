"""The app factory: the mock's Flask app with the extensions of this package put in."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, cast

import flask
import werkzeug.debug
from joserfc.jwk import RSAKey

from devstack.dev_users import ALICE
from devstack.idp.client_auth import (
    PRIVATE_KEY_JWT,
    ClientKeys,
    PrivateKeyJwtAuthentication,
    registered_client,
)
from devstack.idp.dpop import DpopBindings, DpopOptions
from devstack.idp.dpop_endpoints import jwt_access_token
from devstack.idp.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    OpenIDCode,
    RequiredS256CodeChallenge,
    RotatingRefreshTokenGrant,
)
from devstack.idp.mock import MOCK_BLUEPRINT, oidc_provider_mock
from devstack.idp.revocation import TokenRevocationEndpoint
from devstack.idp.routes import blueprint
from devstack.idp.sessions import LoginSessions
from devstack.idp.state import DevIdp, MockView, attach_idp
from devstack.idp.views import MOCK_VIEW_WRAPPERS, add_issuer_to_authorization_response

#: The seeded user: tests and people log in by entering this ``sub`` at the IdP's form. Its
#: claims, and those of any other subject, come from ``devstack.dev_users``, as the accounts
#: stub's profiles do.
TEST_USER: Mapping[str, object] = {"sub": ALICE.sub, **ALICE.claims()}

#: A member of support staff: the ``roles`` claim (in the ID token and at UserInfo) holds
#: ``support``, the role the web gateway's admin routes ask for by default.
SUPPORT_USER: Mapping[str, object] = {
    "sub": "support",
    "name": "Sam Support",
    "email": "support@example.com",
    "email_verified": True,
    "roles": ["support"],
}


def create_idp_app(
    *,
    access_token_ttl: int = 300,
    backchannel_logout_uris: Mapping[str, str] | None = None,
    users: Sequence[Mapping[str, object]] = (TEST_USER, SUPPORT_USER),
    now: Callable[[], float] = time.time,
    client_keys: Mapping[str, ClientKeys] | None = None,
    par: bool = False,
    require_par: bool = False,
    dpop: DpopOptions | None = None,
) -> flask.Flask:
    """The mock's Flask app with the extensions described in the package docstring.

    ``access_token_ttl`` (seconds) is the lifetime of access and ID tokens, first and refreshed.
    ``backchannel_logout_uris`` maps client ids to their back-channel logout URIs. ``users`` are
    claim sets (each with ``sub``) that can log in with one click. ``now`` is the clock that
    stamps ``auth_time`` on a login (a test's clock in-process; the wall clock otherwise).
    ``client_keys`` registers clients that must authenticate with ``private_key_jwt``: client
    id -> ``jwks_uri`` or ``jwks`` document. ``par``: discovery advertises the PAR endpoint (it
    is always served; not advertising it keeps the request in the URL for clients in ``auto``
    mode); ``require_par``: advertised, and the authorization endpoint takes pushed requests only.
    ``dpop``: the FAPI 2.0 DPoP mode (``devstack.idp.dpop``); None leaves every token a bearer.

        Served over plain http on a non-loopback host, authlib needs AUTHLIB_INSECURE_TRANSPORT=1
        (``main`` sets it); on 127.0.0.1 and localhost it is not needed.
    """
    app: flask.Flask = oidc_provider_mock.app(
        access_token_max_age=timedelta(seconds=access_token_ttl),
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
    if dpop is not None:
        app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = jwt_access_token
    _replace_grants(app, server, access_token_ttl)
    server.register_client_auth_method(PRIVATE_KEY_JWT, PrivateKeyJwtAuthentication())
    for client_id in client_keys or {}:
        storage.store_client(registered_client(client_id))
    mock_views = _wrap_mock_views(app)
    app.after_request(add_issuer_to_authorization_response)
    app.register_blueprint(blueprint)

    attach_idp(
        app,
        DevIdp(
            storage=storage,
            server=server,
            signing_key=RSAKey.import_key(storage.jwk.as_dict(is_private=True)),
            backchannel_logout_uris=dict(backchannel_logout_uris or {}),
            mock_views=mock_views,
            sessions=LoginSessions(now),
            client_keys=dict(client_keys or {}),
            advertise_par=par or require_par,
            require_par=require_par,
            dpop=DpopBindings(dpop) if dpop is not None else None,
            access_token_ttl=access_token_ttl,
        ),
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


def _replace_grants(app: flask.Flask, server: Any, access_token_ttl: int) -> None:
    """Swap the mock's grants for the subclasses in ``grants``, and add RFC 7009 revocation."""
    # The mock sets a lifetime for codes' first tokens only; authlib's default for refreshed
    # ones is an hour. load_config rebuilds the token generator from the config.
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "authorization_code": access_token_ttl,
        "refresh_token": access_token_ttl,
        "client_credentials": access_token_ttl,
    }
    server.load_config(app.config)
    # authlib has no call to unregister a grant; replace the mock's with the subclasses.
    server._authorization_grants.clear()
    server._token_grants.clear()
    ttl = timedelta(seconds=access_token_ttl)
    server.register_grant(
        AuthorizationCodeGrant,
        [OpenIDCode(require_nonce=False, token_max_age=ttl), RequiredS256CodeChallenge()],
    )
    server.register_grant(RotatingRefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(TokenRevocationEndpoint)


def _wrap_mock_views(app: flask.Flask) -> dict[str, MockView]:
    """Put the wrappers of ``views`` in place of the mock's views; returns the mock's originals,
    which the wrappers call."""
    originals: dict[str, MockView] = {}
    for name, wrapper in MOCK_VIEW_WRAPPERS.items():
        endpoint = f"{MOCK_BLUEPRINT}.{name}"
        originals[name] = cast(MockView, app.view_functions[endpoint])
        app.view_functions[endpoint] = wrapper
    return originals
