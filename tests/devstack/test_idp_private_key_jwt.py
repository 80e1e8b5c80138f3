"""The dev IdP's ``private_key_jwt`` and PAR checks, on its Flask app: an assertion must be
for the issuer (not the token endpoint), signed by a registered key, with an unseen ``jti``;
a registered client cannot fall back to a secret."""

from __future__ import annotations

import time
import uuid
from typing import Any

import flask
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from devstack.idp import create_idp_app

ISSUER = "http://localhost"
CLIENT = "bff-web"
KEY = ECKey.generate_key("P-256", parameters={"kid": "k1"})
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PAR = {"response_type": "code", "redirect_uri": "http://127.0.0.1/cb", "scope": "openid"}


@pytest.fixture
def app() -> flask.Flask:
    return create_idp_app(client_keys={CLIENT: KeySet([KEY]).as_dict(private=False)})


def assertion(key: ECKey = KEY, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": CLIENT, "sub": CLIENT, "aud": ISSUER, "iat": now, "exp": now + 60}
    claims["jti"] = str(uuid.uuid4())
    claims.update(overrides)
    return jwt.encode({"alg": "ES256", "kid": "k1"}, claims, key)


def push(app: flask.Flask, client_assertion: str) -> Any:
    body = {**PAR, "client_assertion_type": ASSERTION_TYPE, "client_assertion": client_assertion}
    return app.test_client().post("/oauth2/par", data=body)


def test_a_good_assertion_pushes_a_request(app: flask.Flask) -> None:
    response = push(app, assertion())
    assert response.status_code == 201
    assert response.json["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")


@pytest.mark.parametrize(
    "make",
    [
        lambda: assertion(aud=f"{ISSUER}/oauth2/token"),
        lambda: assertion(aud="https://elsewhere.example"),
        lambda: assertion(ECKey.generate_key("P-256", parameters={"kid": "k1"})),
        lambda: assertion(exp=int(time.time()) - 600),
    ],
    ids=["token-endpoint-aud", "other-aud", "wrong-key", "expired"],
)
def test_bad_assertions_are_refused_as_invalid_client(app: flask.Flask, make: Any) -> None:
    response = push(app, make())
    assert response.status_code in (400, 401)
    assert response.json["error"] == "invalid_client"


def test_a_replayed_assertion_is_refused(app: flask.Flask) -> None:
    once = assertion()
    assert push(app, once).status_code == 201
    assert push(app, once).json["error"] == "invalid_client"


def test_a_registered_client_cannot_use_a_secret(app: flask.Flask) -> None:
    response = app.test_client().post("/oauth2/par", data=PAR, auth=(CLIENT, "any-secret"))
    assert response.json["error"] == "invalid_client"


def test_discovery_advertises_par_and_the_authorize_endpoint_requires_it_when_told() -> None:
    app = create_idp_app(require_par=True)
    metadata = app.test_client().get("/.well-known/openid-configuration").json
    assert metadata["pushed_authorization_request_endpoint"] == f"{ISSUER}/oauth2/par"
    assert metadata["require_pushed_authorization_requests"] is True
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    assert "pushed_authorization_request_endpoint" not in (
        create_idp_app().test_client().get("/.well-known/openid-configuration").json
    )
    plain = app.test_client().get("/oauth2/authorize", query_string={**PAR, "client_id": "x"})
    assert plain.status_code == 400
    unknown = app.test_client().get(
        "/oauth2/authorize", query_string={"client_id": "x", "request_uri": "urn:nope"}
    )
    assert unknown.json["error"] == "invalid_request_uri"
