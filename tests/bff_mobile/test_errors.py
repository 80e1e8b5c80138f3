"""The mobile gateway's two maps (problems, and OAuth errors at the token endpoint): complete,
and every 401 carries its bearer challenge."""

from __future__ import annotations

import pytest

from bff_mobile.errors import IDENTITY_PROBLEMS, OAUTH_ERRORS, oauth_error_response
from shared.identity.errors import (
    GrantRefused,
    IdentityError,
    InvalidGrant,
    NotSignedIn,
    OidcError,
    SessionEnded,
)
from shared.platform.errors import RETRY_AFTER_S
from tests.shared.identity.test_errors import every_identity_error


def instance(error_class: type[IdentityError]) -> IdentityError:
    return error_class("x") if issubclass(error_class, OidcError) else error_class()


def test_every_identity_error_is_mapped_at_both_boundaries() -> None:
    assert IDENTITY_PROBLEMS.unmapped() == []
    assert OAUTH_ERRORS.unmapped() == []


@pytest.mark.parametrize("error_class", every_identity_error(), ids=lambda cls: cls.__name__)
def test_every_401_carries_a_bearer_challenge(error_class: type[IdentityError]) -> None:
    problem = IDENTITY_PROBLEMS.translate(instance(error_class))
    assert problem.status in (400, 401, 503)
    if problem.status == 401:
        assert problem.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("error", [NotSignedIn(), SessionEnded(), InvalidGrant("refused")])
def test_a_dead_token_or_session_says_invalid_token(error: IdentityError) -> None:
    """Also when the IdP refused the session's refresh (SessionEnded, InvalidGrant)."""
    problem = IDENTITY_PROBLEMS.translate(error)
    assert problem.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_no_token_at_all_gets_a_bare_challenge() -> None:
    """RFC 6750 3.1: a request without credentials gets no error code."""
    problem = IDENTITY_PROBLEMS.translate(NotSignedIn(credentials_sent=False))
    assert problem.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("error_class", every_identity_error(), ids=lambda cls: cls.__name__)
def test_the_token_endpoint_speaks_oauth(error_class: type[IdentityError]) -> None:
    error = OAUTH_ERRORS.translate(instance(error_class))
    assert error.error in ("invalid_request", "invalid_grant", "temporarily_unavailable")
    assert error.status in (400, 503)


def test_a_refused_grant_is_invalid_grant() -> None:
    error = OAUTH_ERRORS.translate(GrantRefused("The code is not valid"))
    assert (error.error, error.status, error.description) == (
        "invalid_grant",
        400,
        "The code is not valid",
    )


@pytest.mark.parametrize("error_class", every_identity_error(), ids=lambda cls: cls.__name__)
def test_every_503_at_the_token_endpoint_carries_retry_after(
    error_class: type[IdentityError],
) -> None:
    """`temporarily_unavailable` (the IdP away) tells the app when to try again."""
    response = oauth_error_response(OAUTH_ERRORS.translate(instance(error_class)))
    assert ("retry-after" in response.headers) == (response.status_code == 503)
    if response.status_code == 503:
        assert response.headers["retry-after"] == str(RETRY_AFTER_S)
