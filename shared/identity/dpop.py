"""DPoP proofs (RFC 9449): made for the gateway's own token and API calls, checked for the apps'.

A DPoP proof is a JWT the sender signs, for one request, with a key whose public half rides in
its header; a token bound to that key (``cnf.jkt``, the key's RFC 7638 thumbprint) is worthless
to anyone who copies it without the private key. joserfc makes and checks the JWTs, keys and
thumbprints; this module only says which claims a proof must carry (section 4.2) and which
checks a receiver makes (section 4.3):

* ``typ`` is ``dpop+jwt``, the algorithm asymmetric (never ``none`` or an HMAC), the signature
  verifies with the header's ``jwk``, and that ``jwk`` holds no private part;
* ``htm`` is the request's method and ``htu`` its URL without query and fragment;
* ``iat`` is within ``PROOF_MAX_AGE_S`` of now (and not further in the future than the leeway);
* with an access token, ``ath`` is its SHA-256 hash and the proof's key is the one it is bound to;
* with a server nonce, the proof carries it.

A ``jti`` seen before is a replay; the receiver keeps the seen ones for the proof's life
(``replay_window_s``), since only it knows where to keep them (Redis, memory).

A sender presents a DPoP-bound access token with ``authorization_headers``: the one function
that says, for one request (method and URL), which ``Authorization`` and ``DPoP`` headers go
with it; ``BoundToken`` holds a session's token, key and clock for the calls of one request.
"""

from __future__ import annotations

import hashlib
import secrets
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from shared.identity.records import TokenSet
from shared.platform.clock import Clock

PROOF_TYPE = "dpop+jwt"
PROOF_ALGORITHMS = ("ES256", "PS256", "EdDSA", "RS256")
"""Asymmetric algorithms a receiver accepts (RFC 9449 section 4.3 item 5: never ``none`` nor a
MAC). The gateway itself signs with ``PROOF_SIGNING_ALG``."""
PROOF_SIGNING_ALG = "ES256"
DPOP_TOKEN_TYPE = "DPoP"  # noqa: S105 - a token type, not a secret
"""The ``token_type`` of a DPoP-bound token and the ``Authorization`` scheme it is sent with."""
NONCE_ERROR = "use_dpop_nonce"
NONCE_HEADER = "DPoP-Nonce"
PROOF_MAX_AGE_S = 60
CLOCK_LEEWAY_S = 5
PUBLIC_KEY_TYPES: dict[str, type[ECKey | RSAKey | OKPKey]] = {
    "EC": ECKey,
    "RSA": RSAKey,
    "OKP": OKPKey,
}

ProofKey = ECKey | RSAKey | OKPKey


class InvalidDpopProof(Exception):
    """A proof that fails one of the checks. The message names the check, never the proof; the
    receiver answers ``invalid_dpop_proof`` (RFC 9449 section 7.1)."""


class DpopNonceRequired(InvalidDpopProof):
    """The proof lacks the server's current nonce (``use_dpop_nonce``, section 8)."""


class NonceAsked(Exception):
    """The sender's side of section 8: a server answered ``use_dpop_nonce`` with a nonce in
    ``DPoP-Nonce``; the request is worth one more try with it. Never leaves the sender."""


def replay_window_s() -> int:
    """How long a receiver remembers a proof's ``jti``: as long as it would accept the proof."""
    return PROOF_MAX_AGE_S + 2 * CLOCK_LEEWAY_S


def challenge(error: str | None = None) -> str:
    """The ``WWW-Authenticate`` value of a DPoP-protected resource (section 7.1): the scheme,
    its error (none when no token was sent) and the algorithms a proof may use."""
    error_part = f'error="{error}", ' if error else ""
    return f'DPoP {error_part}algs="{" ".join(PROOF_ALGORITHMS)}"'


def access_token_hash(access_token: str) -> str:
    """The ``ath`` claim: base64url (no padding) of the token's SHA-256 (section 4.2)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def target_uri(url: str) -> str:
    """The ``htu`` of a request: its URL without query and fragment (section 4.2)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))


@dataclass(frozen=True)
class DpopKey:
    """A key pair that signs proofs; ``thumbprint`` is the ``jkt`` tokens are bound to."""

    key: ECKey

    @classmethod
    def generate(cls) -> DpopKey:
        return cls(ECKey.generate_key("P-256", private=True))

    @classmethod
    def from_pem(cls, pem: bytes) -> DpopKey:
        return cls(ECKey.import_key(pem))

    def private_pem(self) -> bytes:
        """The private key, for storing sealed with the session it belongs to."""
        return self.key.as_pem(private=True)

    def __repr__(self) -> str:
        return f"DpopKey(jkt={self.thumbprint})"

    @property
    def thumbprint(self) -> str:
        return str(self.key.thumbprint())

    def proof(
        self,
        method: str,
        url: str,
        *,
        now: float,
        access_token: str | None = None,
        nonce: str | None = None,
    ) -> str:
        """A fresh proof for one request (a new ``jti`` every time)."""
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": target_uri(url),
            "iat": int(now),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        header = {
            "typ": PROOF_TYPE,
            "alg": PROOF_SIGNING_ALG,
            "jwk": self.key.as_dict(private=False),
        }
        return jwt.encode(header, claims, self.key, algorithms=[PROOF_SIGNING_ALG])


@dataclass(frozen=True)
class VerifiedProof:
    """What a receiver learns from a good proof: the key's thumbprint and the replay key."""

    jkt: str
    jti: str
    iat: int


def _public_key(header: dict[str, Any]) -> ProofKey:
    value = header.get("jwk")
    if not isinstance(value, dict):
        raise InvalidDpopProof("the proof has no jwk header")
    key_type = PUBLIC_KEY_TYPES.get(str(value.get("kty")))
    if key_type is None:
        raise InvalidDpopProof("the proof's key type is not supported")
    try:
        key = key_type.import_key(value)
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidDpopProof("the proof's jwk is not a valid key") from exc
    if key.is_private:
        raise InvalidDpopProof("the proof's jwk holds a private key")
    return key


def _read_header(proof: str) -> dict[str, Any]:
    try:
        header = dict(jws.extract_compact(proof.encode("ascii")).protected)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise InvalidDpopProof("the proof is not a compact JWS") from exc
    if header.get("typ") != PROOF_TYPE:
        raise InvalidDpopProof("the proof's typ is not dpop+jwt")
    if header.get("alg") not in PROOF_ALGORITHMS:
        raise InvalidDpopProof("the proof's algorithm is not accepted")
    return header


def verify_proof(
    proof: str,
    *,
    method: str,
    url: str,
    now: float,
    access_token: str | None = None,
    bound_jkt: str | None = None,
    nonce: str | None = None,
) -> VerifiedProof:
    """Check a proof for a request (section 4.3); ``InvalidDpopProof`` names the failed check.

    ``access_token`` makes ``ath`` required; ``bound_jkt`` is the thumbprint the token is bound
    to; ``nonce`` the server's current nonce, when it requires one."""
    header = _read_header(proof)
    key = _public_key(header)
    try:
        claims = jwt.decode(proof, key, algorithms=[str(header["alg"])]).claims
    except (JoseError, ValueError) as exc:
        raise InvalidDpopProof("the proof's signature does not verify") from exc
    jti, iat = claims.get("jti"), claims.get("iat")
    if not isinstance(jti, str) or not jti or not isinstance(iat, int):
        raise InvalidDpopProof("the proof lacks jti or iat")
    if claims.get("htm") != method.upper():
        raise InvalidDpopProof("the proof is for another method")
    if not isinstance(claims.get("htu"), str) or target_uri(claims["htu"]) != target_uri(url):
        raise InvalidDpopProof("the proof is for another URL")
    if not now - PROOF_MAX_AGE_S - CLOCK_LEEWAY_S <= iat <= now + CLOCK_LEEWAY_S:
        raise InvalidDpopProof("the proof is too old or from the future")
    if nonce is not None and claims.get("nonce") != nonce:
        raise DpopNonceRequired("the proof lacks the server's nonce")
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        raise InvalidDpopProof("the proof is for another access token")
    jkt = str(key.thumbprint())
    if bound_jkt is not None and not secrets.compare_digest(jkt, bound_jkt):
        raise InvalidDpopProof("the proof's key is not the one the token is bound to")
    return VerifiedProof(jkt=jkt, jti=jti, iat=iat)


def authorization_headers(
    access_token: str,
    key: DpopKey | None,
    method: str,
    url: str,
    *,
    now: float,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that present ``access_token`` on one request: ``Bearer`` (RFC 6750) when it
    is not bound to a key, else ``DPoP`` and a fresh proof with ``ath`` (RFC 9449 section 7.1).
    Every attempt of a request calls this again: a proof is good for one request only."""
    if key is None:
        return {"Authorization": f"Bearer {access_token}"}
    proof = key.proof(method, url, now=now, access_token=access_token, nonce=nonce)
    return {"Authorization": f"{DPOP_TOKEN_TYPE} {access_token}", "DPoP": proof}


def is_dpop_bound(token_type: str | None) -> bool:
    """Whether a token response's ``token_type`` says the token is bound (case-insensitive,
    RFC 6749 section 5.1): a provider that answers ``Bearer`` to a proof did not bind it."""
    return (token_type or "").lower() == DPOP_TOKEN_TYPE.lower()


def session_key(tokens: TokenSet) -> DpopKey | None:
    """The key a session's IdP calls prove with (made at its login), None without DPoP."""
    return DpopKey.from_pem(tokens.dpop_key) if tokens.dpop_key else None


def presented_key(tokens: TokenSet) -> DpopKey | None:
    """The key calls with the session's access token prove with: its key, when the IdP bound
    the token to it (``token_type`` DPoP), else None and the token goes as ``Bearer``."""
    return session_key(tokens) if is_dpop_bound(tokens.token_type) else None


@dataclass(frozen=True)
class BoundToken:
    """A session's access token, with its key when it is DPoP-bound: what the calls of one
    request present to resource servers (``headers`` for each attempt)."""

    access_token: str
    key: DpopKey | None
    clock: Clock

    def headers(self, method: str, url: str, *, nonce: str | None = None) -> dict[str, str]:
        return authorization_headers(
            self.access_token, self.key, method, url, now=self.clock.time(), nonce=nonce
        )

    @classmethod
    def of(cls, tokens: TokenSet, clock: Clock) -> BoundToken | None:
        """The session's bound access token; None when it is a plain bearer token."""
        key = presented_key(tokens)
        return None if key is None else cls(tokens.access_token, key, clock)

    def __repr__(self) -> str:
        return "BoundToken(<redacted>)"
