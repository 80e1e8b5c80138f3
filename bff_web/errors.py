"""The web gateway's one translation of identity errors into problem+json responses."""

from __future__ import annotations

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

IDENTITY_PROBLEMS: ErrorMap[IdentityError, GatewayError] = ErrorMap(
    IdentityError,
    {
        IdentityError: lambda exc: BadRequest(exc.detail),
        NotSignedIn: lambda exc: Unauthenticated(exc.detail),
        SessionEnded: lambda exc: Unauthenticated(exc.detail),
        InvalidGrant: lambda exc: Unauthenticated(SessionEnded.default_detail),
        IdpUnavailable: lambda exc: NotReady(exc.detail),
        RefreshInProgress: lambda exc: NotReady(exc.detail),
        # A protocol failure outside a login: the IdP answered in a way we cannot use.
        OidcError: lambda exc: NotReady(IdpUnavailable.default_detail),
        LoginRejected: lambda exc: BadRequest(exc.detail),
        LogoutTokenRejected: lambda exc: BadRequest(exc.detail),
        GrantRefused: lambda exc: BadRequest(exc.detail),
    },
)
