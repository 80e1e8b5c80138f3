"""The stubs' check of DPoP-bound tokens (RFC 9449 section 7), beside the bearer check.

The stubs never verified a token's signature (the real services do; the stubs stand in for
their contract, not their key management), and do not now: they read the binding a token
declares. An access token that is a JWT with ``cnf.jkt`` is DPoP-bound: it is accepted only
with the ``DPoP`` scheme and a proof (``shared.identity.dpop.verify_proof``) for this request
(method, and the URL as the caller addressed it: ``Host`` and path), with ``ath``, a fresh
``iat``, an unseen ``jti`` and that key. Sent as ``Bearer`` it is refused: a copied token is
useless without its key. With a nonce set (``create_stubs_app(dpop_nonce=...)``), a proof
without it gets the ``use_dpop_nonce`` challenge (section 9).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from devstack.received_jwts import SeenTokenIds, claims_unverified
from shared.identity.dpop import (
    NONCE_ERROR,
    NONCE_HEADER,
    DpopNonceRequired,
    InvalidDpopProof,
    challenge,
    replay_window_s,
    verify_proof,
)

INVALID_PROOF = "invalid_dpop_proof"


@dataclass(frozen=True)
class Refusal:
    """A 401 with its challenge: ``WWW-Authenticate`` (and ``DPoP-Nonce``) headers."""

    detail: str
    headers: tuple[tuple[bytes, bytes], ...]


def bound_jkt(access_token: str) -> str | None:
    """The ``cnf.jkt`` an access token declares (a JWT's payload, unverified), or None."""
    confirmation = claims_unverified(access_token).get("cnf")
    jkt = confirmation.get("jkt") if isinstance(confirmation, dict) else None
    return jkt if isinstance(jkt, str) else None


def refusal(error: str, detail: str, nonce: str | None = None) -> Refusal:
    headers = [(b"www-authenticate", challenge(error).encode())]
    if nonce is not None:
        headers.append((NONCE_HEADER.lower().encode(), nonce.encode()))
    return Refusal(detail, tuple(headers))


def check_dpop_request(
    access_token: str,
    proof: str | None,
    *,
    method: str,
    url: str,
    seen: SeenTokenIds,
    nonce: str | None,
) -> tuple[str, Refusal | None]:
    """(the proof's jkt or "", None) for a good DPoP request, else ("", the refusal)."""
    jkt = bound_jkt(access_token)
    if jkt is None:
        return "", refusal("invalid_token", "the token is not DPoP-bound")
    if proof is None:
        return "", refusal(INVALID_PROOF, "a DPoP proof is required")
    now = time.time()
    try:
        verified = verify_proof(
            proof,
            method=method,
            url=url,
            now=now,
            access_token=access_token,
            bound_jkt=jkt,
            nonce=nonce,
        )
    except DpopNonceRequired:
        return "", refusal(NONCE_ERROR, "a DPoP nonce is required", nonce)
    except InvalidDpopProof as exc:
        return "", refusal(INVALID_PROOF, str(exc))
    if not seen.first_use(verified.jti, now + replay_window_s()):
        return "", refusal(INVALID_PROOF, "the proof was used before")
    return verified.jkt, None
