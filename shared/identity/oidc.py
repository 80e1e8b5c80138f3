"""The OpenID Connect relying party both gateways use, built on authlib and joserfc.

authlib speaks the protocol (authorization URL with PKCE S256, code exchange, refresh, RFC 7009
revocation, client authentication: ``client_auth``; RFC 9126 pushed authorization requests:
``par``); joserfc verifies every JWT (ID tokens, logout tokens) against the provider's JWKS
(``provider_jwts``). Nothing here hand-writes JOSE.

The discovery document is cached and read again after ``METADATA_TTL_S``.

Every call to the provider goes through one transport wrapped in ``TracedTransport``: a client
span per request with the caller's trace context injected, and ``http.client.request.duration``
with ``bff.core.service="idp"``. Bodies (codes, tokens, the client secret) are never recorded.
An ``https://`` provider is verified against ``tls`` (``BFF_OIDC_CA_FILE``) or the system store;
a TLS failure is ``IdpUnavailable`` (503) with its reason in the log (``idp_tls_failed``).

With DPoP (RFC 9449, ``BFF_OIDC_DPOP``) each protocol step of a session takes that session's
key: every request its authlib client sends (PAR, code, refresh, revocation) and UserInfo carry
a proof, and the IdP's nonce is answered (``idp_dpop``).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import authlib.deprecate  # installs authlib's own "always" filter first, so ours can win
import httpx
import msgspec

with warnings.catch_warnings():
    # authlib 1.9 prefers the httpx2 package and warns when it falls back to httpx, which it
    # fully supports; the gateways use httpx on purpose.
    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from shared.identity.client_auth import ClientAuthentication
from shared.identity.dpop import (
    NONCE_ERROR,
    NONCE_HEADER,
    PROOF_SIGNING_ALG,
    DpopKey,
    NonceAsked,
    authorization_headers,
)
from shared.identity.errors import IdpUnavailable, InvalidGrant, OidcError
from shared.identity.idp_dpop import IdpNonce, asks_for_nonce
from shared.identity.par import browser_url, push_authorization_request, use_par
from shared.identity.provider_jwts import METADATA_TTL_S, ProviderJwts
from shared.platform.clock import SYSTEM_CLOCK, Clock
from shared.platform.logging import get_logger
from shared.platform.settings import ParMode
from shared.platform.telemetry import TracedTransport
from shared.platform.tls import tls_failure_reason

READY_CHECK_TIMEOUT_S = 2.0
_logger = get_logger("bff.oidc")


class TokenResponse(msgspec.Struct, frozen=True):
    access_token: str
    expires_at: float
    refresh_token: str | None = None
    id_token: str | None = None
    scope: str | None = None
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a secret


class ProviderMetadata(msgspec.Struct, frozen=True):
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None
    revocation_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    authorization_response_iss_parameter_supported: bool = False
    id_token_signing_alg_values_supported: list[str] = []
    pushed_authorization_request_endpoint: str | None = None
    require_pushed_authorization_requests: bool = False
    dpop_signing_alg_values_supported: list[str] = []


class OidcRelyingParty:
    """One confidential client at one provider, with one redirect URI."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        scopes: tuple[str, ...],
        transport: httpx.AsyncBaseTransport | None = None,
        tls: ssl.SSLContext | None = None,
        timeout_s: float = 10.0,
        clock: Clock = SYSTEM_CLOCK,
        client_auth: ClientAuthentication | None = None,
        par: ParMode = "auto",
        dpop: bool = False,
    ) -> None:
        self._clock = clock
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_auth = client_auth or ClientAuthentication(
            method="client_secret_basic", client_secret=client_secret
        )
        self._par: ParMode = par
        self.dpop = dpop
        """Whether sessions get a DPoP key at login (``new_dpop_key``)."""
        self._dpop_nonce = IdpNonce(clock)
        self.redirect_uri = redirect_uri
        self.scopes = scopes
        self._transport = TracedTransport(
            transport
            or httpx.AsyncHTTPTransport(
                retries=1, verify=tls or ssl.create_default_context(), trust_env=False
            ),
            upstream="idp",
        )
        self._timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0))
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self.jwts = ProviderJwts(
            issuer=self.issuer, client_id=client_id, metadata=self.metadata, get_json=self._get_json
        )
        self._refresh_lock = asyncio.Lock()

    # --- plumbing ------------------------------------------------------------------------------

    def _oauth_client(
        self, *, with_scope: bool = True, dpop_key: DpopKey | None = None
    ) -> AsyncOAuth2Client:
        """A short-lived authlib client per protocol step (authlib clients keep token state),
        sharing one connection pool (the transport).

        A refresh is made without ``scope`` (RFC 6749 section 6: the scope first granted),
        since providers may grant less than asked (``offline_access``) and then refuse a refresh
        that names the scope asked for.

        Every request that authenticates the client (code, refresh, revocation, PAR) is made by
        a client from here, so per-request proofs (DPoP) have one place to be added: with
        ``dpop_key``, each request proves it (``IdpNonce.event_hooks``)."""
        client = AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_auth.client_secret,
            scope=" ".join(self.scopes) if with_scope else None,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=self.client_auth.method,
            revocation_endpoint_auth_method=self.client_auth.method,
            transport=self._transport,
            timeout=self._timeout,
            event_hooks=self._dpop_nonce.event_hooks(dpop_key),
        )
        signer = self.client_auth.assertion_signer(self.issuer)
        if signer is not None:
            client.register_client_auth_method(signer)
        return client

    def new_dpop_key(self) -> DpopKey | None:
        """A fresh key pair for a new session when DPoP is on (``BFF_OIDC_DPOP``), else None."""
        return DpopKey.generate() if self.dpop else None

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def _get_json(self, url: str) -> Any:
        async with httpx.AsyncClient(transport=self._transport, timeout=self._timeout) as client:
            try:
                response = await client.get(url)
            except httpx.HTTPError as exc:
                raise _unreachable(exc) from exc
        if response.status_code != 200:
            raise IdpUnavailable(f"the identity provider answered {response.status_code}")
        try:
            return msgspec.json.decode(response.content)
        except msgspec.DecodeError as exc:
            raise IdpUnavailable("the identity provider sent an unreadable document") from exc

    # --- metadata and keys ----------------------------------------------------------------------

    async def metadata(self, *, force: bool = False) -> ProviderMetadata:
        now = time.monotonic()
        if not force and self._metadata and now - self._metadata_at < METADATA_TTL_S:
            return self._metadata
        async with self._refresh_lock:
            if (
                not force
                and self._metadata
                and time.monotonic() - self._metadata_at < METADATA_TTL_S
            ):
                return self._metadata
            document = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            try:
                metadata = msgspec.convert(document, ProviderMetadata)
            except msgspec.ValidationError as exc:
                raise IdpUnavailable("the discovery document is not valid") from exc
            if metadata.issuer.rstrip("/") != self.issuer:
                raise IdpUnavailable("the discovery document names another issuer")
            self._metadata, self._metadata_at = metadata, time.monotonic()
            return metadata

    async def is_reachable(self) -> bool:
        """For readiness: the discovery document can be read now (and is cached again)."""
        try:
            async with asyncio.timeout(READY_CHECK_TIMEOUT_S):
                await self.metadata(force=True)
        except (IdpUnavailable, OidcError, TimeoutError):
            _logger.warning("ready_check_failed", check="oidc")
            return False
        return True

    # --- login ----------------------------------------------------------------------------------

    async def authorization_url(
        self,
        *,
        state: str,
        nonce: str,
        code_verifier: str,
        prompt: str | None = None,
        max_age: int | None = None,
        dpop_key: DpopKey | None = None,
    ) -> str:
        """Where to send the browser; with PAR, the request itself is pushed first.

        With ``dpop_key`` the code is bound to it: ``dpop_jkt`` (RFC 9449 section 10) in the
        request, and a proof on the pushed request (section 10.1). A provider that lists the
        proof algorithms it takes without the gateway's (ES256) is refused before the login
        starts, rather than at the code exchange."""
        metadata = await self.metadata()
        extra: dict[str, str] = {}
        if dpop_key is not None:
            accepted = metadata.dpop_signing_alg_values_supported
            if accepted and PROOF_SIGNING_ALG not in accepted:
                raise OidcError("the identity provider does not accept ES256 DPoP proofs")
            extra["dpop_jkt"] = dpop_key.thumbprint
        if prompt is not None:
            extra["prompt"] = prompt
        if max_age is not None:
            extra["max_age"] = str(max_age)
        client = self._oauth_client(dpop_key=dpop_key)
        url, _ = client.create_authorization_url(
            metadata.authorization_endpoint,
            state=state,
            nonce=nonce,
            code_verifier=code_verifier,
            **extra,
        )
        endpoint = metadata.pushed_authorization_request_endpoint
        if not use_par(
            self._par, endpoint=endpoint, required=metadata.require_pushed_authorization_requests
        ):
            return str(url)
        assert endpoint is not None  # use_par is True only with an endpoint

        async def push() -> str:
            return await push_authorization_request(
                client,
                endpoint=endpoint,
                authorization_url=str(url),
                auth=client.client_auth(client.token_endpoint_auth_method),
            )

        request_uri = await self._dpop_nonce.retried(push)
        return browser_url(
            metadata.authorization_endpoint, client_id=self.client_id, request_uri=request_uri
        )

    async def check_authorization_response_issuer(self, iss: str | None) -> None:
        """RFC 9207: the ``iss`` of the authorization response must be our provider's."""
        metadata = await self.metadata()
        if iss is None:
            if metadata.authorization_response_iss_parameter_supported:
                raise OidcError("the authorization response has no issuer")
            return
        if iss.rstrip("/") != self.issuer:
            raise OidcError("the authorization response comes from another issuer")

    async def exchange_code(
        self, *, code: str, code_verifier: str, dpop_key: DpopKey | None = None
    ) -> TokenResponse:
        metadata = await self.metadata()
        return await self._token_call(
            metadata.token_endpoint,
            "fetch_token",
            dpop_key,
            grant_type="authorization_code",
            code=code,
            code_verifier=code_verifier,
            redirect_uri=self.redirect_uri,
        )

    async def validate_id_token(self, id_token: str, *, nonce: str | None) -> dict[str, Any]:
        """OIDC Core 3.1.3.7 (``ProviderJwts.validate_id_token``)."""
        return await self.jwts.validate_id_token(id_token, nonce=nonce)

    async def userinfo(
        self, access_token: str, *, dpop_key: DpopKey | None = None
    ) -> dict[str, Any]:
        """The UserInfo response (OIDC Core 5.3) for an access token: a JSON object.

        A DPoP-bound token (``dpop_key``) is sent with the ``DPoP`` scheme and a proof; a
        ``use_dpop_nonce`` challenge (401) is answered once, with the nonce it carries."""
        metadata = await self.metadata()
        endpoint = metadata.userinfo_endpoint
        if not endpoint:
            raise OidcError("the identity provider has no UserInfo endpoint")
        async with httpx.AsyncClient(transport=self._transport, timeout=self._timeout) as client:
            nonce = None
            for _attempt in range(2):
                headers = authorization_headers(
                    access_token, dpop_key, "GET", endpoint, now=self._clock.time(), nonce=nonce
                )
                try:
                    response = await client.get(endpoint, headers=headers)
                except httpx.HTTPError as exc:
                    raise IdpUnavailable("the identity provider is unreachable") from exc
                nonce = response.headers.get(NONCE_HEADER)
                if dpop_key is None or not asks_for_nonce(response) or not nonce:
                    break
        if response.status_code != 200:
            raise OidcError(f"the UserInfo request failed ({response.status_code})")
        try:
            info = msgspec.json.decode(response.content)
        except msgspec.DecodeError as exc:
            raise OidcError("the UserInfo response is not JSON") from exc
        if not isinstance(info, dict):
            raise OidcError("the UserInfo response is not an object")
        return info

    # --- tokens ---------------------------------------------------------------------------------

    async def refresh(
        self, refresh_token: str, *, dpop_key: DpopKey | None = None
    ) -> TokenResponse:
        metadata = await self.metadata()
        return await self._token_call(
            metadata.token_endpoint, "refresh_token", dpop_key, refresh_token=refresh_token
        )

    async def client_credentials(self, scopes: tuple[str, ...]) -> TokenResponse:
        """The gateway's own access token (RFC 6749 4.4) for ``scopes``, with the configured
        client authentication, as every other token request; no user is involved."""
        metadata = await self.metadata()
        return await self._token_call(
            metadata.token_endpoint,
            "fetch_token",
            None,
            grant_type="client_credentials",
            scope=" ".join(scopes),
        )

    async def _token_call(
        self, url: str, method: str, dpop_key: DpopKey | None, **params: str
    ) -> TokenResponse:
        async def call() -> Mapping[str, Any]:
            client = self._oauth_client(with_scope=method != "refresh_token", dpop_key=dpop_key)
            try:
                token: Mapping[str, Any] = await getattr(client, method)(url, **params)
            except OAuthError as exc:
                if dpop_key is not None and exc.error == NONCE_ERROR:
                    raise NonceAsked() from exc
                raise
            return token

        try:
            token = await self._dpop_nonce.retried(call)
        except OAuthError as exc:
            if exc.error in ("invalid_grant", "invalid_token", "unauthorized_client"):
                raise InvalidGrant(
                    f"the identity provider refused the grant ({exc.error})"
                ) from exc
            raise OidcError(f"the token request failed ({exc.error})") from exc
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from exc
        except ValueError as exc:  # authlib raises it for a body that is not a token response
            raise IdpUnavailable("the identity provider sent an unreadable token response") from exc
        if "access_token" not in token:
            raise IdpUnavailable("the token response has no access token")
        expires_in = float(token.get("expires_in") or 300)
        return TokenResponse(
            access_token=str(token["access_token"]),
            expires_at=self._clock.time() + expires_in,
            refresh_token=token.get("refresh_token"),
            id_token=token.get("id_token"),
            scope=token.get("scope"),
            token_type=str(token.get("token_type") or "Bearer"),
        )

    async def revoke_refresh_token(
        self, refresh_token: str, *, dpop_key: DpopKey | None = None
    ) -> bool:
        """RFC 7009, best effort: logout must not fail because revocation did.

        A session with a DPoP key sends a proof here too: RFC 9449 asks none at revocation for
        a confidential client, but a provider that binds refresh tokens may, and a proof costs
        nothing where it is not asked for."""
        metadata = await self.metadata()
        endpoint = metadata.revocation_endpoint
        if not endpoint:
            return False

        async def revoke() -> httpx.Response:
            response: httpx.Response = await self._oauth_client(dpop_key=dpop_key).revoke_token(
                endpoint,
                token=refresh_token,
                token_type_hint="refresh_token",  # noqa: S106 - a hint name, not a secret
            )
            if dpop_key is not None and response.status_code == 400 and asks_for_nonce(response):
                raise NonceAsked()
            return response

        try:
            response = await self._dpop_nonce.retried(revoke)
        except (httpx.HTTPError, OAuthError, OidcError) as exc:
            _log_tls_failure(exc)
            _logger.warning("token_revocation_failed")
            return False
        return bool(response.status_code == 200)

    async def end_session_url(
        self, *, id_token_hint: str | None, post_logout_redirect_uri: str
    ) -> str | None:
        metadata = await self.metadata()
        if not metadata.end_session_endpoint:
            return None
        params = {"post_logout_redirect_uri": post_logout_redirect_uri, "client_id": self.client_id}
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        separator = "&" if "?" in metadata.end_session_endpoint else "?"
        return f"{metadata.end_session_endpoint}{separator}{urlencode(params)}"

    # --- back-channel logout ----------------------------------------------------------------------

    async def validate_logout_token(self, logout_token: str) -> dict[str, Any]:
        """OIDC Back-Channel Logout 1.0, 2.6 (``ProviderJwts.validate_logout_token``)."""
        return await self.jwts.validate_logout_token(logout_token)


def _unreachable(exc: httpx.HTTPError) -> IdpUnavailable:
    _log_tls_failure(exc)
    return IdpUnavailable("the identity provider is unreachable")


def _log_tls_failure(exc: Exception) -> None:
    """A refused TLS connection is a configuration fault worth its own line, with the reason."""
    tls_reason = tls_failure_reason(exc)
    if tls_reason is not None:
        _logger.error("idp_tls_failed", service="idp", tls_reason=tls_reason)
