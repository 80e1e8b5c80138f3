"""How the gateway proves to the IdP that it is its client: a shared secret or its own key.

``client_secret_basic`` and ``client_secret_post`` send the secret; ``private_key_jwt``
(RFC 7523, OIDC Core 9) sends a short-lived JWT signed with the gateway's private key, which
the IdP checks against the public keys the gateway publishes at ``/.well-known/jwks.json``.
Signing is authlib's ``PrivateKeyJWT``; keys, thumbprints and the JWKS are joserfc's.

The assertion follows FAPI 2.0: ``aud`` is the issuer (not the endpoint it is sent to), a fresh
``jti`` each time, ES256 for an EC P-256 key and PS256 for an RSA key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc.jwk import ECKey, KeySet, RSAKey

from shared.platform.settings import ClientAuthMethod, Settings

ASSERTION_LIFETIME_S = 60
"""A client assertion is used once, at once; a short life limits what a leaked one is worth."""

SigningKey = ECKey | RSAKey


def import_signing_key(pem: str, kid: str | None = None) -> SigningKey:
    """A PEM private key (already checked by the settings) as a joserfc key with ``alg``
    (PS256 for RSA, ES256 for EC P-256), ``use`` and ``kid`` (the RFC 7638 thumbprint unless
    one is given)."""
    key_type: type[SigningKey]
    if isinstance(load_pem_private_key(pem.encode(), password=None), rsa.RSAPrivateKey):
        key_type, alg = RSAKey, "PS256"
    else:
        key_type, alg = ECKey, "ES256"
    thumbprint = key_type.import_key(pem).thumbprint()
    return key_type.import_key(pem, parameters={"alg": alg, "use": "sig", "kid": kid or thumbprint})


class IssuerAudienceAssertion(PrivateKeyJWT):  # type: ignore[misc]
    """authlib's ``private_key_jwt`` with the issuer as ``aud`` (FAPI 2.0 5.3.2.1) and a
    lifetime of ``ASSERTION_LIFETIME_S``. ``claims`` stays None: authlib then makes a new
    ``jti`` for every assertion (a claims dict would be reused, and its ``jti`` with it)."""

    def __init__(self, issuer: str, key: SigningKey) -> None:
        super().__init__(token_endpoint=issuer, alg=str(key.alg))
        self._key = key

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return str(
            private_key_jwt_sign(
                self._key,
                client_id=auth.client_id,
                token_endpoint=token_endpoint,
                alg=self.alg,
                header={"kid": self._key.kid, "typ": "JWT"},
                expires_in=ASSERTION_LIFETIME_S,
            )
        )


@dataclass(frozen=True)
class ClientAuthentication:
    """The method and what it needs: the secret, or the current and previous keys."""

    method: ClientAuthMethod
    client_secret: str = ""
    signing_key: SigningKey | None = None
    previous_key: SigningKey | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientAuthentication:
        signing_key = previous_key = None
        if settings.oidc_client_key:
            signing_key = import_signing_key(settings.oidc_client_key, settings.oidc_client_key_id)
        if settings.oidc_client_key_previous:
            previous_key = import_signing_key(settings.oidc_client_key_previous)
        return cls(
            method=settings.oidc_client_auth,
            client_secret=settings.oidc_client_secret,
            signing_key=signing_key,
            previous_key=previous_key,
        )

    def assertion_signer(self, issuer: str) -> IssuerAudienceAssertion | None:
        """The authlib auth method to register on a client, for ``private_key_jwt`` only."""
        if self.method != "private_key_jwt":
            return None
        if self.signing_key is None:
            raise ValueError("private_key_jwt needs a signing key")
        return IssuerAudienceAssertion(issuer, self.signing_key)

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS an IdP registers by ``jwks_uri``: current and previous public keys only."""
        keys = [key for key in (self.signing_key, self.previous_key) if key is not None]
        return dict(KeySet(list(keys)).as_dict(private=False))
