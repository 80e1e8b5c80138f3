"""The web gateway's one translation of identity errors into answers.

An XHR (the SPA's ``fetch``) gets problem+json. A browser navigating to a login link while the
IdP is away gets a short page with the same status and ``Retry-After``: a raw JSON body is no
answer for a person looking at a tab.
"""

from __future__ import annotations

import html
from typing import Any

from litestar import MediaType, Request, Response

from shared.identity import errors as identity
from shared.platform.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    NotReady,
    StepUpRequired,
    Unauthenticated,
    current_trace_id,
    handle_gateway_error,
    unavailable_headers,
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
        # The apps' DPoP errors: never raised behind a browser's cookie; named for completeness.
        identity.DpopTokenRefused: lambda exc: Unauthenticated(exc.detail),
        identity.DpopProofRefused: lambda exc: Unauthenticated(exc.detail),
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

_UNAVAILABLE_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign-in unavailable</title></head>
<body>
<h1>Sign-in is unavailable right now</h1>
<p>{detail}</p>
<p>Please try again in a few seconds.</p>
<p>Reference: {reference}</p>
</body>
</html>
"""


def is_browser_navigation(request: Request[Any, Any, Any]) -> bool:
    """A top-level page load (the browser asks for HTML), not the SPA's ``fetch``."""
    return "text/html" in request.headers.get("accept", "")


def unavailable_page(problem: GatewayError) -> Response[str]:
    body = _UNAVAILABLE_PAGE.format(
        detail=html.escape(problem.detail), reference=html.escape(current_trace_id() or "none")
    )
    return Response(
        body,
        status_code=problem.status,
        media_type=MediaType.HTML,
        headers=unavailable_headers({"cache-control": "no-store"}, problem.status),
    )


def handle_identity_error(
    request: Request[Any, Any, Any], exc: identity.IdentityError
) -> Response[Any]:
    """Litestar exception handler: the translated problem, as a page for a navigation to 503."""
    problem = IDENTITY_PROBLEMS.translate(exc)
    if problem.status == 503 and is_browser_navigation(request):
        return unavailable_page(problem)
    return handle_gateway_error(request, problem)
