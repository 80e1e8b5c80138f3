"""The mobile gateway's translations of identity errors, one per boundary.

* ``IDENTITY_PROBLEMS``: problem+json for the app's API and ``/auth/logout``. Every 401 carries
  a bearer challenge: ``Bearer error="invalid_token"`` when a token was presented (unknown,
  expired, rotated out, or its session ended — also when the IdP refused a refresh), a bare
  ``Bearer`` when none was (RFC 6750 3.1).
* ``OAUTH_ERRORS``: the OAuth error format (RFC 6749 5.2) for ``POST /auth/token``, which is
  what app OAuth libraries understand.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from litestar import MediaType, Response

from shared.identity.errors import (
    GrantRefused,
    IdentityError,
    IdpUnavailable,
    InvalidGrant,
    LoginRejected,
    LogoutTokenRejected,
    NotSignedIn,
    OidcError,
    RefreshInProgress,
    SessionEnded,
)
from shared.platform.errors import BadRequest, GatewayError, NotReady, Unauthenticated
from shared.platform.problem_map import ErrorMap

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
INVALID_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def _unauthenticated(exc: IdentityError) -> GatewayError:
    if isinstance(exc, NotSignedIn) and not exc.credentials_sent:
        return Unauthenticated(exc.detail, headers={"WWW-Authenticate": "Bearer"})
    return Unauthenticated(exc.detail, headers=INVALID_TOKEN)


IDENTITY_PROBLEMS: ErrorMap[IdentityError, GatewayError] = ErrorMap(
    IdentityError,
    {
        IdentityError: lambda exc: BadRequest(exc.detail),
        NotSignedIn: _unauthenticated,
        SessionEnded: _unauthenticated,
        InvalidGrant: lambda exc: _unauthenticated(SessionEnded()),
        IdpUnavailable: lambda exc: NotReady(exc.detail),
        RefreshInProgress: lambda exc: NotReady(exc.detail),
        OidcError: lambda exc: NotReady(IdpUnavailable.default_detail),
        LoginRejected: lambda exc: BadRequest(exc.detail),
        LogoutTokenRejected: lambda exc: BadRequest(exc.detail),
        GrantRefused: _unauthenticated,
    },
)


class OAuthError(Exception):
    """A token-endpoint refusal in the OAuth error format (RFC 6749 5.2)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _oauth(error: str, status: int = 400) -> Callable[[IdentityError], OAuthError]:
    return lambda exc: OAuthError(error, exc.detail, status)


OAUTH_ERRORS: ErrorMap[IdentityError, OAuthError] = ErrorMap(
    IdentityError,
    {
        IdentityError: _oauth("invalid_request"),
        GrantRefused: _oauth("invalid_grant"),
        NotSignedIn: _oauth("invalid_grant"),
        SessionEnded: _oauth("invalid_grant"),
        InvalidGrant: _oauth("invalid_grant"),
        LoginRejected: _oauth("invalid_grant"),
        LogoutTokenRejected: _oauth("invalid_request"),
        IdpUnavailable: _oauth("temporarily_unavailable", 503),
        RefreshInProgress: _oauth("temporarily_unavailable", 503),
        OidcError: _oauth("temporarily_unavailable", 503),
    },
)


def oauth_error_response(exc: OAuthError) -> Response[bytes]:
    return Response(
        msgspec.json.encode({"error": exc.error, "error_description": exc.description}),
        status_code=exc.status,
        media_type=MediaType.JSON,
        headers=NO_STORE,
    )
