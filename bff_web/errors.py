"""The web gateway's one translation of identity errors into problem+json responses."""

from __future__ import annotations

from shared.identity import errors as identity
from shared.platform.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    NotReady,
    StepUpRequired,
    Unauthenticated,
)
from shared.platform.problem_map import ErrorMap

LOGIN_PATH = "/bff/login"


def step_up_login_url(max_age_s: int) -> str:
    """Where the SPA sends the browser for a fresh login (it adds its own ``returnUrl``)."""
    return f"{LOGIN_PATH}?prompt=login&max_age={max_age_s}"


def _step_up(exc: identity.IdentityError) -> GatewayError:
    max_age_s = exc.max_age_s if isinstance(exc, identity.StepUpRequired) else 0
    return StepUpRequired(exc.detail, extra={"loginUrl": step_up_login_url(max_age_s)})


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
        identity.PolicyRefused: lambda exc: Forbidden(exc.detail),
        identity.StepUpRequired: _step_up,
    },
)
