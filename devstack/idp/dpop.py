"""DPoP (RFC 9449) at the dev IdP, in the FAPI 2.0 mode ``--dpop`` (``--require-dpop``,
``--dpop-nonce``): the proof checks are ``shared.identity.dpop``'s, the rest is the provider's
side of the protocol.

* token endpoint: a ``DPoP`` proof (POST, the endpoint's URL, fresh ``iat``, unseen ``jti``,
  the server nonce when ``--dpop-nonce``) makes the tokens ``token_type: DPoP``, bound to the
  proof's key. Access tokens are then JWTs (RFC 9068 claims) carrying ``cnf.jkt``, so a
  resource server (the core stubs) can see the binding; without a proof they stay ``Bearer``
  (refused with ``--require-dpop``);
* a code asked for with ``dpop_jkt`` (section 10), or pushed with a proof (section 10.1), is
  redeemed only with a proof of that key;
* refresh tokens are bound too, for every client: stricter than section 5 asks of confidential
  clients, so a gateway that lost its session's key fails its tests at the first refresh;
* UserInfo takes a bound token only with the ``DPoP`` scheme and a proof with ``ath``;
* revocation takes a proof but does not need one (section 5: the client authenticates);
* ``--dpop-nonce``: one nonce per IdP process, given in ``DPoP-Nonce`` with every
  ``use_dpop_nonce`` error (section 8).

Every proof the IdP judges is recorded for ``/_stats`` (endpoint, key thumbprint, whether it
carried a nonce, accepted or not), so a test can see what a gateway sent.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import flask
from flask.typing import ResponseReturnValue

from devstack.received_jwts import SeenTokenIds, claims_unverified
from shared.identity.dpop import (
    DPOP_TOKEN_TYPE,
    NONCE_ERROR,
    NONCE_HEADER,
    DpopNonceRequired,
    InvalidDpopProof,
    VerifiedProof,
    challenge,
    replay_window_s,
    verify_proof,
)

INVALID_PROOF = "invalid_dpop_proof"
MAX_RECORDED_PROOFS = 200


@dataclass(frozen=True)
class DpopOptions:
    """The IdP's DPoP mode: ``required`` refuses token requests without a proof; ``nonce``
    makes every proof carry the server's nonce."""

    required: bool = False
    nonce: bool = False


class DpopBindings:
    """Which key each token is bound to (its ``jkt``), and the proofs judged: thread-safe, as the
    server is threaded."""

    def __init__(self, options: DpopOptions) -> None:
        self.options = options
        self.nonce = secrets.token_urlsafe(16) if options.nonce else None
        self._lock = threading.Lock()
        self._jkt_of: dict[str, str] = {}
        self._seen = SeenTokenIds()
        self._proofs: list[dict[str, object]] = []

    def bind(self, token: str, jkt: str) -> None:
        with self._lock:
            self._jkt_of[token] = jkt

    def jkt_of(self, token: str) -> str | None:
        with self._lock:
            return self._jkt_of.get(token)

    def record(self, endpoint: str, jkt: str | None, *, nonce: bool, accepted: bool) -> None:
        with self._lock:
            entry: dict[str, object] = {
                "endpoint": endpoint,
                "jkt": jkt,
                "nonce": nonce,
                "accepted": accepted,
            }
            self._proofs = [*self._proofs, entry][-MAX_RECORDED_PROOFS:]

    def proofs(self) -> list[dict[str, object]]:
        with self._lock:
            return list(self._proofs)

    def reset_proofs(self) -> None:
        with self._lock:
            self._proofs = []

    def check(
        self,
        endpoint: str,
        proof: str,
        *,
        access_token: str | None = None,
        bound_jkt: str | None = None,
    ) -> VerifiedProof:
        """Section 4.3 for the current request, the nonce and ``jti`` replay included;
        ``InvalidDpopProof`` (or ``DpopNonceRequired``) otherwise. Recorded either way."""
        claims = claims_unverified(proof)  # only to record whether it carried a nonce
        try:
            verified = verify_proof(
                proof,
                method=flask.request.method,
                url=flask.request.base_url,
                now=time.time(),
                access_token=access_token,
                bound_jkt=bound_jkt,
                nonce=self.nonce,
            )
            if not self._seen.first_use(verified.jti, time.time() + replay_window_s()):
                raise InvalidDpopProof("the proof was used before")
        except InvalidDpopProof:
            self.record(endpoint, None, nonce="nonce" in claims, accepted=False)
            raise
        self.record(endpoint, verified.jkt, nonce="nonce" in claims, accepted=True)
        return verified


def proof_error(exc: InvalidDpopProof, bindings: DpopBindings) -> ResponseReturnValue:
    """The token endpoint's answer to a bad proof (section 5.2 and 8), with the nonce."""
    if isinstance(exc, DpopNonceRequired) and bindings.nonce is not None:
        body = {"error": NONCE_ERROR, "error_description": "a DPoP nonce is required"}
        return body, HTTPStatus.BAD_REQUEST, {NONCE_HEADER: bindings.nonce}
    return {"error": INVALID_PROOF, "error_description": str(exc)}, HTTPStatus.BAD_REQUEST


def resource_error(error: str, description: str, bindings: DpopBindings) -> ResponseReturnValue:
    """A protected resource's 401 (section 7.1 and 9): ``WWW-Authenticate: DPoP error=...``."""
    headers = {"WWW-Authenticate": challenge(error)}
    if error == NONCE_ERROR and bindings.nonce is not None:
        headers[NONCE_HEADER] = bindings.nonce
    return {"error": error, "error_description": description}, HTTPStatus.UNAUTHORIZED, headers


def bind_token_response(response: flask.Response, jkt: str, bindings: DpopBindings) -> None:
    """A successful token response becomes ``token_type: DPoP``, its tokens bound to ``jkt``."""
    body = response.get_json(silent=True)
    if response.status_code != HTTPStatus.OK or not isinstance(body, dict):
        return
    body["token_type"] = DPOP_TOKEN_TYPE
    for name in ("access_token", "refresh_token"):
        if isinstance(body.get(name), str):
            bindings.bind(body[name], jkt)
    response.set_data(flask.json.dumps(body))


def bound_grant_jkt(storage: Any, form: Any, bindings: DpopBindings) -> str | None:
    """The key a token request's grant is bound to: its code's ``dpop_jkt``, or the key its
    refresh token was issued for; None for a grant bound to none."""
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        code = storage.get_authorization_code(str(form.get("code", "")))
        return getattr(code, "dpop_jkt", None) if code is not None else None
    if grant_type == "refresh_token":
        return bindings.jkt_of(str(form.get("refresh_token", "")))
    return None
