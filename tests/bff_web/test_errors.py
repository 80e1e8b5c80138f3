"""The web gateway's one map from identity errors to problems: complete, and never a 500."""

from __future__ import annotations

import pytest

from bff_web.errors import IDENTITY_PROBLEMS
from shared.identity.errors import (
    IdentityError,
    NotSignedIn,
    PolicyRefused,
    SessionEnded,
    StepUpRequired,
)
from tests.shared.identity.test_errors import an_instance_of, every_identity_error


def test_every_identity_error_is_mapped() -> None:
    assert IDENTITY_PROBLEMS.unmapped() == []


@pytest.mark.parametrize("error_class", every_identity_error(), ids=lambda cls: cls.__name__)
def test_every_identity_error_is_a_client_or_availability_problem(
    error_class: type[IdentityError],
) -> None:
    problem = IDENTITY_PROBLEMS.translate(an_instance_of(error_class))
    assert problem.status in (400, 401, 403, 503)


@pytest.mark.parametrize("error", [NotSignedIn(), SessionEnded()])
def test_an_ended_or_missing_session_is_a_401(error: IdentityError) -> None:
    problem = IDENTITY_PROBLEMS.translate(error)
    assert problem.status == 401
    assert problem.detail == error.detail


def test_a_refused_policy_is_a_403_that_names_nothing_internal() -> None:
    problem = IDENTITY_PROBLEMS.translate(PolicyRefused())
    assert (problem.status, problem.slug) == (403, "forbidden")
    assert problem.detail == PolicyRefused.default_detail
    assert problem.extra == {}


def test_a_login_too_old_is_a_step_up_401_with_a_fresh_login_url() -> None:
    problem = IDENTITY_PROBLEMS.translate(StepUpRequired(600))
    assert (problem.status, problem.slug) == (401, "step-up-required")
    assert problem.extra == {"loginUrl": "/bff/login?prompt=login&max_age=600"}
