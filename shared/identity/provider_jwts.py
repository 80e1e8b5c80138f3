"""The provider's signed tokens: ID tokens and back-channel logout tokens, checked by joserfc
against the provider's published keys.

The JWKS is cached with the discovery document's lifetime (``METADATA_TTL_S``) and fetched again
at once (at most every ``JWKS_MIN_REFRESH_INTERVAL_S``) when a token names a key it does not
hold, which is how a provider's key rotation reaches us. Only asymmetric algorithms the provider
advertises verify (``SIGNING_ALGORITHMS``): never ``none``, never an HMAC keyed with the client
secret.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from joserfc.jwt import ClaimsOption

from shared.identity.errors import IdpUnavailable, OidcError

if TYPE_CHECKING:
    from shared.identity.oidc import ProviderMetadata

METADATA_TTL_S = 3600.0
JWKS_MIN_REFRESH_INTERVAL_S = 30.0
CLOCK_LEEWAY_S = 60
LOGOUT_TOKEN_MAX_AGE_S = 300
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
SIGNING_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "EdDSA",
    "Ed25519",
)
"""Asymmetric only: ``none`` and the HS* family (keyed with the client secret) never verify.
``EdDSA`` is the name providers still use for Ed25519 (RFC 9864 deprecates it for ``Ed25519``)."""


_QUIET_EDDSA = copy.copy(JWSRegistry.algorithms["EdDSA"])
_QUIET_EDDSA.security_warning = None


class _ProviderAlgorithms(JWSRegistry):
    """joserfc's JWS algorithms, except that ``EdDSA`` verifies without joserfc's warning that
    RFC 9864 renamed it: a provider signing with the old name is not a fault of ours, and a
    warning per token would flood the logs."""

    def __init__(self, *, algorithms: list[str]) -> None:
        super().__init__(algorithms=algorithms)
        self.algorithms = {**JWSRegistry.algorithms, "EdDSA": _QUIET_EDDSA}


class ProviderJwts:
    """Verifies the JWTs one provider signs for one client."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        metadata: Callable[[], Awaitable[ProviderMetadata]],
        get_json: Callable[[str], Awaitable[Any]],
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._metadata = metadata
        self._get_json = get_json
        self._jwks: KeySet | None = None
        self._jwks_at = 0.0

    async def _keys(self, *, refresh: bool = False) -> KeySet:
        now = time.monotonic()
        stale = now - self._jwks_at > METADATA_TTL_S
        may_refresh = now - self._jwks_at > JWKS_MIN_REFRESH_INTERVAL_S
        if self._jwks is not None and not stale and not (refresh and may_refresh):
            return self._jwks
        metadata = await self._metadata()
        document = await self._get_json(metadata.jwks_uri)
        try:
            self._jwks = KeySet.import_key_set(document)
        except (JoseError, ValueError, TypeError) as exc:
            raise IdpUnavailable("the provider's key set is not valid") from exc
        self._jwks_at = time.monotonic()
        return self._jwks

    async def verify(self, token: str) -> jwt.Token:
        """Signature check with the provider's keys; one JWKS refresh on an unknown key."""
        metadata = await self._metadata()
        algorithms = [
            alg
            for alg in (metadata.id_token_signing_alg_values_supported or ["RS256"])
            if alg in SIGNING_ALGORITHMS
        ]
        for attempt in range(2):
            keys = await self._keys(refresh=attempt > 0)
            try:
                registry = _ProviderAlgorithms(algorithms=algorithms)
                return jwt.decode(token, keys, algorithms=algorithms, registry=registry)
            except (JoseError, ValueError) as exc:
                if attempt == 1:
                    raise OidcError("the token's signature is not valid") from exc
        raise AssertionError("unreachable")

    async def validate_id_token(self, id_token: str, *, nonce: str | None) -> dict[str, Any]:
        """OIDC Core 3.1.3.7: signature, iss, aud (and azp), exp, iat, nonce."""
        token = await self.verify(id_token)
        claims = dict(token.claims)
        options: dict[str, ClaimsOption] = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
        }
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        registry = jwt.JWTClaimsRegistry(None, CLOCK_LEEWAY_S, **options)
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise OidcError(f"the ID token is not valid ({exc.error})") from exc
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.client_id:
            raise OidcError("the ID token is not valid (azp)")
        return claims

    async def validate_logout_token(self, logout_token: str) -> dict[str, Any]:
        """OIDC Back-Channel Logout 1.0, section 2.6 (replay of ``jti`` is the caller's check)."""
        token = await self.verify(logout_token)
        typ = str(token.header.get("typ", "logout+jwt")).lower()
        if typ not in ("logout+jwt", "application/logout+jwt", "jwt"):
            raise OidcError("the logout token has the wrong type")
        claims = dict(token.claims)
        now = int(time.time())
        registry = jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY_S,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            iat={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise OidcError(f"the logout token is not valid ({exc.error})") from exc
        if now - int(claims["iat"]) > LOGOUT_TOKEN_MAX_AGE_S + CLOCK_LEEWAY_S:
            raise OidcError("the logout token is stale")
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(
            events.get(BACKCHANNEL_LOGOUT_EVENT), dict
        ):
            raise OidcError("the logout token has no back-channel logout event")
        if "nonce" in claims:
            raise OidcError("a logout token must not carry a nonce")
        if not claims.get("sub") and not claims.get("sid"):
            raise OidcError("the logout token names neither sub nor sid")
        return claims
