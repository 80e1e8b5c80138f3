"""``private_key_jwt`` client authentication (RFC 7523, OIDC Core 9) for clients registered with
their public keys: a ``jwks`` document or a ``jwks_uri`` (fetched at each authentication, so a
client's key rotation is seen at once).

A registered client may authenticate with its key only; any other client id keeps the mock's
"any secret" behaviour. The assertion must name the issuer as ``aud`` (FAPI 2.0; the token
endpoint's URL is refused), carry a ``jti`` not seen before, and be signed with ES256, PS256 or
RS256 by a key of the client's set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from devstack.idp.mock import mock_storage
from devstack.idp.state import current_idp, request_issuer

PRIVATE_KEY_JWT = "private_key_jwt"
ASSERTION_ALGORITHMS = ["ES256", "PS256", "RS256"]
JWKS_FETCH_TIMEOUT_S = 5.0
ClientKeys = str | Mapping[str, Any]
"""A client's registration: its ``jwks_uri`` or its ``jwks`` document."""


def registered_client(client_id: str) -> Any:
    """The mock's client record for a client that must use ``private_key_jwt``."""
    return mock_storage.Client(
        id=client_id,
        secret=mock_storage.ClientAllowAny(),
        redirect_uris=mock_storage.ClientAllowAny(),
        allowed_scopes=mock_storage.Client.SCOPES_SUPPORTED,
        token_endpoint_auth_method=PRIVATE_KEY_JWT,
    )


class PrivateKeyJwtAuthentication(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def get_audiences(self) -> list[str]:
        return [request_issuer()]

    def validate_jti(self, claims: Any, jti: str) -> bool:
        key = f"{claims['sub']}:{jti}"
        return current_idp().seen_assertion_ids.first_use(key, float(claims.get("exp", 0)))

    def resolve_client_public_key(self, client: Any) -> KeySet:
        registration = current_idp().client_keys.get(client.get_client_id())
        if registration is None:
            raise InvalidClientError(description="The client has no registered keys.")
        if isinstance(registration, str):
            try:
                response = httpx.get(registration, timeout=JWKS_FETCH_TIMEOUT_S)
                response.raise_for_status()
                registration = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise InvalidClientError(description="The client's jwks_uri failed.") from exc
        try:
            return KeySet.import_key_set(dict(registration))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidClientError(description="The client's key set is not valid.") from exc

    def authenticate_client(self, client: Any) -> Any:
        accepted = super().authenticate_client(client)
        current_idp().stats.count_client_assertion()
        return accepted

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        """authlib's check, with PS256 allowed and a key set without the ``kid`` refused as
        ``invalid_client`` (joserfc raises ``ValueError`` for it)."""
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="The client assertion is not valid.") from exc
        self.verify_claims(token.claims)
        return token.claims
