"""The mobile gateway's two maps (problems, and OAuth errors at the token endpoint): complete,
and every 401 carries its Bearer or DPoP challenge."""

from __future__ import annotations

import pytest

from bff_mobile.errors import IDENTITY_PROBLEMS, OAUTH_ERRORS, oauth_error_response
from shared.identity.errors import (
    DpopProofRefused,
    DpopTokenRefused,
    GrantRefused,
    IdentityError,
    InvalidGrant,
    NotSignedIn,
    PolicyRefused,
    SessionEnded,
    StepUpRequired,
)
from shared.platform.errors import RETRY_AFTER_S
from tests.shared.identity.test_errors import an_instance_of, every_identity_error

instance = an_instance_of


def test_every_identity_error_is_mapped_at_both_boundaries() -> None:
    assert IDENTITY_PROBLEMS.unmapped() == []
    assert OAUTH_ERRORS.unmapped() == []


@pytest.mark.parametrize("error_class", every_identity_error(), ids=lambda cls: cls.__name__)
def test_every_401_carries_a_challenge(error_class: type[IdentityError]) -> None:
    """The DPoP errors challenge with the DPoP scheme (RFC 9449 7.1), the others with Bearer."""
    problem = IDENTITY_PROBLEMS.translate(instance(error_class))
    assert problem.status in (400, 401, 403, 503)
    if problem.status == 401:
        dpop = issubclass(error_class, (DpopProofRefused, DpopTokenRefused))
        assert problem.headers["WWW-Authenticate"].startswith("DPoP " if dpop else "Bearer")


ALGS = 'algs="ES256 PS256 EdDSA RS256"'


@pytest.mark.parametrize(
    ("error", "challenge"),
    [
        (DpopProofRefused("The DPoP proof was already used"), 'error="invalid_dpop_proof"'),
        (DpopTokenRefused("The access token is DPoP-bound"), 'error="invalid_token"'),
        (DpopTokenRefused(credentials_sent=False), ""),
    ],
)
def test_a_dpop_refusal_says_which_part_failed(error: IdentityError, challenge: str) -> None:
    """A bad proof, a token the DPoP scheme refuses, and no token where only DPoP is taken."""
    problem = IDENTITY_PROBLEMS.translate(error)
    assert (problem.status, problem.detail) == (401, error.detail)
    expected = f"DPoP {challenge}, {ALGS}" if challenge else f"DPoP {ALGS}"
    assert problem.headers["WWW-Authenticate"] == expected


def test_a_refused_proof_at_the_token_endpoint_is_invalid_dpop_proof() -> None:
    """RFC 9449 5: a 400 in the OAuth format."""
    error = OAUTH_ERRORS.translate(DpopProofRefused("A DPoP proof is required"))
    assert (error.error, error.status) == ("invalid_dpop_proof", 400)


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
    assert error.error in (
        "invalid_request",
        "invalid_grant",
        "invalid_dpop_proof",
        "temporarily_unavailable",
    )
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


def test_a_refused_policy_is_a_403() -> None:
    problem = IDENTITY_PROBLEMS.translate(PolicyRefused())
    assert (problem.status, problem.detail) == (403, PolicyRefused.default_detail)


def test_a_login_too_old_asks_the_app_to_authorize_again_as_rfc_9470_says() -> None:
    problem = IDENTITY_PROBLEMS.translate(StepUpRequired(300))
    assert (problem.status, problem.slug) == (401, "step-up-required")
    assert problem.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_user_authentication", max_age=300'
    )
    assert problem.extra == {"loginUrl": "/auth/authorize?prompt=login&max_age=300"}
