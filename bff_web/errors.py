"""The web gateway's one translation of identity errors into problem+json responses."""

from __future__ import annotations

from shared.identity import errors as identity
from shared.platform.errors import BadRequest, GatewayError, NotReady, Unauthenticated
from shared.platform.problem_map import ErrorMap

IDENTITY_PROBLEMS: ErrorMap[identity.IdentityError, GatewayError] = ErrorMap(
    identity.IdentityError,
    {
        identity.IdentityError: lambda exc: BadRequest(exc.detail),
        identity.NotSignedIn: lambda exc: Unauthenticated(exc.detail),
        identity.SessionEnded: lambda exc: Unauthenticated(exc.detail),
        identity.InvalidGrant: lambda exc: Unauthenticated(identity.SessionEnded.default_detail),
        identity.IdpUnavailable: lambda exc: NotReady(exc.detail),
        identity.RefreshInProgress: lambda exc: NotReady(exc.detail),
        # A protocol failure outside a login: the IdP answered in a way we cannot use.
        identity.OidcError: lambda exc: NotReady(identity.IdpUnavailable.default_detail),
        identity.LoginRejected: lambda exc: BadRequest(exc.detail),
        identity.LogoutTokenRejected: lambda exc: BadRequest(exc.detail),
        identity.GrantRefused: lambda exc: BadRequest(exc.detail),
    },
)
