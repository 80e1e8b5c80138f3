"""Where the dev IdP's endpoints take DPoP proofs (see ``devstack.idp.dpop`` for the rules):
the token endpoint, the PAR endpoint, UserInfo and revocation, and the JWT access tokens that
carry a token's binding (``cnf.jkt``) to the resource servers."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import flask
from flask.typing import ResponseReturnValue
from joserfc import jwt

from devstack.idp.dpop import (
    INVALID_PROOF,
    DpopBindings,
    bind_token_response,
    bound_grant_jkt,
    proof_error,
    resource_error,
)
from devstack.idp.state import SIGNING_ALG, DevIdp, current_idp, request_issuer
from shared.identity.dpop import DPOP_TOKEN_TYPE, NONCE_ERROR, DpopNonceRequired, InvalidDpopProof

_G_JKT = "dev_idp_dpop_jkt"
ACCESS_TOKEN_JWT_TYPE = "at+jwt"  # noqa: S105 - a JWT type, not a secret


def token_with_dpop(
    bindings: DpopBindings, issue: Callable[[], ResponseReturnValue]
) -> ResponseReturnValue:
    """The token endpoint in DPoP mode: the proof is judged before the client is (so a nonce
    retry does not burn a client assertion), then the grant's binding, then the mock issues."""
    storage = current_idp().storage
    form = flask.request.form
    proof = flask.request.headers.get("DPoP")
    bound = bound_grant_jkt(storage, form, bindings)
    if proof is None:
        if bindings.options.required or bound is not None:
            bindings.record("token", None, nonce=False, accepted=False)
            return proof_error(InvalidDpopProof("a DPoP proof is required"), bindings)
        return issue()
    try:
        verified = bindings.check("token", proof)
    except InvalidDpopProof as exc:
        return proof_error(exc, bindings)
    if bound is not None and bound != verified.jkt:
        body = {"error": "invalid_grant", "error_description": "the grant is bound to another key"}
        return body, HTTPStatus.BAD_REQUEST
    setattr(flask.g, _G_JKT, verified.jkt)
    response = flask.make_response(issue())
    bind_token_response(response, verified.jkt, bindings)
    return response


def pushed_request_key(bindings: DpopBindings) -> str | ResponseReturnValue | None:
    """Section 10.1: the jkt of a PAR request's proof (None without one), or the refusal."""
    proof = flask.request.headers.get("DPoP")
    if proof is None:
        return None
    try:
        return bindings.check("par", proof).jkt
    except InvalidDpopProof as exc:
        return proof_error(exc, bindings)


def checked_resource_request(bindings: DpopBindings, endpoint: str) -> ResponseReturnValue | None:
    """A protected resource of the IdP (UserInfo): a bound token only with the ``DPoP`` scheme
    and a proof of its key; the request is then handed to the mock as the bearer it checks.
    Returns the refusal, or None to go on."""
    scheme, _, token = flask.request.headers.get("Authorization", "").partition(" ")
    bound = bindings.jkt_of(token.strip())
    if scheme.lower() != DPOP_TOKEN_TYPE.lower():
        if bound is not None:
            return resource_error(
                "invalid_token", "a DPoP-bound token needs the DPoP scheme", bindings
            )
        return None
    proof = flask.request.headers.get("DPoP")
    if proof is None:
        return resource_error(INVALID_PROOF, "a DPoP proof is required", bindings)
    try:
        bindings.check(endpoint, proof, access_token=token.strip(), bound_jkt=bound)
    except DpopNonceRequired:
        return resource_error(NONCE_ERROR, "a DPoP nonce is required", bindings)
    except InvalidDpopProof as exc:
        return resource_error(INVALID_PROOF, str(exc), bindings)
    if bound is None:
        return resource_error("invalid_token", "the token is not DPoP-bound", bindings)
    flask.request.environ["HTTP_AUTHORIZATION"] = f"Bearer {token.strip()}"
    return None


def revocation_proof(bindings: DpopBindings) -> ResponseReturnValue | None:
    """Revocation needs no proof (the client authenticates); one that is sent must be good."""
    proof = flask.request.headers.get("DPoP")
    if proof is None:
        return None
    try:
        bindings.check("revocation", proof)
    except InvalidDpopProof as exc:
        return proof_error(exc, bindings)
    return None


def jwt_access_token(client: Any, grant_type: str, user: Any, scope: str) -> str:
    """authlib's access token generator in DPoP mode: an RFC 9068 JWT, with ``cnf.jkt`` when
    the token request carried a proof, so a resource server can tell what it is bound to."""
    idp: DevIdp = current_idp()
    now = int(time.time())
    client_id = client.get_client_id()
    claims: dict[str, Any] = {
        "iss": request_issuer(),
        "sub": user.sub,
        "aud": client_id,
        "client_id": client_id,
        "scope": scope,
        "iat": now,
        "exp": now + idp.access_token_ttl,
        "jti": secrets.token_urlsafe(16),
    }
    jkt = getattr(flask.g, _G_JKT, None)
    if jkt is not None:
        claims["cnf"] = {"jkt": jkt}
    header = {"alg": SIGNING_ALG, "typ": ACCESS_TOKEN_JWT_TYPE, "kid": idp.signing_key.kid}
    return jwt.encode(header, claims, idp.signing_key)
