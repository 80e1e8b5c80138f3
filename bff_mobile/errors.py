"""The mobile gateway's translations of identity errors, one per boundary.

* ``IDENTITY_PROBLEMS``: problem+json for the app's API and ``/auth/logout``. Every 401 carries
  a challenge: ``Bearer error="invalid_token"`` when a token was presented (unknown,
  expired, rotated out, or its session ended — also when the IdP refused a refresh), a bare
  ``Bearer`` when none was (RFC 6750 3.1). Where DPoP is at stake the challenge is RFC 9449
  7.1's ``DPoP error="invalid_dpop_proof"`` (a proof missing, bad or replayed) or
  ``DPoP error="invalid_token"`` (a bound token sent as Bearer, an unbound one as DPoP, a
  Bearer token where only DPoP is accepted), with the ``algs`` a proof may use.
* A route policy refused is a 403 problem; a login too old for the route a 401 problem of
  type ``/problems/step-up-required`` with RFC 9470's challenge and a ``loginUrl``.
* ``OAUTH_ERRORS``: the OAuth error format (RFC 6749 5.2) for ``POST /auth/token``, which is
  what app OAuth libraries understand; a refused DPoP proof there is a 400
  ``invalid_dpop_proof`` (RFC 9449 5).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.openapi import ResponseSpec

from shared.identity import errors as identity
from shared.identity.dpop import challenge
from shared.platform.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    NotReady,
    StepUpRequired,
    Unauthenticated,
    unavailable_headers,
)
from shared.platform.problem_map import ErrorMap

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
INVALID_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def _unauthenticated(exc: identity.IdentityError) -> GatewayError:
    if isinstance(exc, identity.NotSignedIn) and not exc.credentials_sent:
        return Unauthenticated(exc.detail, headers={"WWW-Authenticate": "Bearer"})
    return Unauthenticated(exc.detail, headers=INVALID_TOKEN)


def dpop_challenge(error: str | None) -> dict[str, str]:
    """RFC 9449 7.1: the DPoP scheme, its error (none when no token was sent), the algs."""
    return {"WWW-Authenticate": challenge(error)}


def _dpop_token_refused(exc: identity.IdentityError) -> GatewayError:
    sent = not isinstance(exc, identity.NotSignedIn) or exc.credentials_sent
    return Unauthenticated(exc.detail, headers=dpop_challenge("invalid_token" if sent else None))


AUTHORIZE_PATH = "/auth/authorize"


def _step_up(exc: identity.IdentityError) -> GatewayError:
    """RFC 9470's challenge: the app runs its authorize flow again with these parameters
    (``loginUrl`` is ``/auth/authorize`` with them; the app adds its own ``redirect_uri``,
    ``state`` and PKCE challenge)."""
    max_age_s = exc.max_age_s if isinstance(exc, identity.StepUpRequired) else 0
    challenge = f'Bearer error="insufficient_user_authentication", max_age={max_age_s}'
    return StepUpRequired(
        exc.detail,
        headers={"WWW-Authenticate": challenge},
        extra={"loginUrl": f"{AUTHORIZE_PATH}?prompt=login&max_age={max_age_s}"},
    )


IDENTITY_PROBLEMS: ErrorMap[identity.IdentityError, GatewayError] = ErrorMap(
    identity.IdentityError,
    {
        identity.IdentityError: lambda exc: BadRequest(exc.detail),
        identity.NotSignedIn: _unauthenticated,
        identity.DpopTokenRefused: _dpop_token_refused,
        identity.DpopProofRefused: lambda exc: Unauthenticated(
            exc.detail, headers=dpop_challenge("invalid_dpop_proof")
        ),
        identity.SessionEnded: _unauthenticated,
        identity.InvalidGrant: lambda exc: _unauthenticated(identity.SessionEnded()),
        identity.IdpUnavailable: lambda exc: NotReady(exc.detail),
        identity.RefreshInProgress: lambda exc: NotReady(exc.detail),
        identity.OidcError: lambda exc: NotReady(identity.IdpUnavailable.default_detail),
        identity.LoginRejected: lambda exc: BadRequest(exc.detail),
        identity.LogoutTokenRejected: lambda exc: BadRequest(exc.detail),
        identity.GrantRefused: _unauthenticated,
        identity.PolicyRefused: lambda exc: Forbidden(exc.detail),
        identity.StepUpRequired: _step_up,
    },
)


class OAuthError(Exception):
    """A token-endpoint refusal in the OAuth error format (RFC 6749 5.2)."""

    def __init__(
        self,
        error: str,
        description: str,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})


def _oauth(error: str, status: int = 400) -> Callable[[identity.IdentityError], OAuthError]:
    return lambda exc: OAuthError(error, exc.detail, status)


OAUTH_ERRORS: ErrorMap[identity.IdentityError, OAuthError] = ErrorMap(
    identity.IdentityError,
    {
        identity.IdentityError: _oauth("invalid_request"),
        identity.GrantRefused: _oauth("invalid_grant"),
        identity.NotSignedIn: _oauth("invalid_grant"),
        identity.DpopProofRefused: _oauth("invalid_dpop_proof"),
        identity.SessionEnded: _oauth("invalid_grant"),
        identity.InvalidGrant: _oauth("invalid_grant"),
        identity.LoginRejected: _oauth("invalid_grant"),
        identity.LogoutTokenRejected: _oauth("invalid_request"),
        identity.IdpUnavailable: _oauth("temporarily_unavailable", 503),
        identity.RefreshInProgress: _oauth("temporarily_unavailable", 503),
        identity.OidcError: _oauth("temporarily_unavailable", 503),
        # Never raised at the token endpoint (no route policy or access token there); named for
        # completeness.
        identity.DpopTokenRefused: _oauth("invalid_grant"),
        identity.PolicyRefused: _oauth("invalid_grant"),
        identity.StepUpRequired: _oauth("invalid_grant"),
    },
)


class OAuthErrorBody(msgspec.Struct):
    """What ``POST /auth/token`` answers on any refusal (RFC 6749 5.2), for its OpenAPI entry."""

    error: str
    error_description: str


TOKEN_ENDPOINT_RESPONSES = {
    status: ResponseSpec(
        data_container=OAuthErrorBody, media_type=MediaType.JSON, description=description
    )
    for status, description in (
        (
            400,
            "The request, grant or DPoP proof was refused (invalid_request, invalid_grant,"
            " invalid_dpop_proof, ...)",
        ),
        (503, "The identity provider is away: temporarily_unavailable, with Retry-After"),
    )
}


def oauth_error_response(exc: OAuthError) -> Response[bytes]:
    return Response(
        msgspec.json.encode({"error": exc.error, "error_description": exc.description}),
        status_code=exc.status,
        media_type=MediaType.JSON,
        headers=unavailable_headers({**NO_STORE, **exc.headers}, exc.status),
    )


def handle_oauth_error(_: Request[Any, Any, Any], exc: OAuthError) -> Response[bytes]:
    """For an ``OAuthError`` raised before the token handler runs (its rate limit)."""
    return oauth_error_response(exc)


def token_rate_limited(retry_after: int) -> OAuthError:
    """``POST /auth/token`` past its rate: 429 in the OAuth format, ``temporarily_unavailable``
    (the registered code for "try again later") with ``Retry-After``."""
    return OAuthError(
        "temporarily_unavailable",
        "Too many token requests; try again later",
        429,
        headers={"Retry-After": str(retry_after)},
    )
