"""The web gateway's one map from identity errors to problems: complete, and never a 500."""

from __future__ import annotations

import pytest

from bff_web.errors import IDENTITY_PROBLEMS
from shared.identity.errors import IdentityError, NotSignedIn, OidcError, SessionEnded
from tests.shared.identity.test_errors import every_identity_error


def test_every_identity_error_is_mapped() -> None:
    assert IDENTITY_PROBLEMS.unmapped() == []


@pytest.mark.parametrize("error_class", every_identity_error(), ids=lambda cls: cls.__name__)
def test_every_identity_error_is_a_client_or_availability_problem(
    error_class: type[IdentityError],
) -> None:
    error = error_class("x") if issubclass(error_class, OidcError) else error_class()
    problem = IDENTITY_PROBLEMS.translate(error)
    assert problem.status in (400, 401, 503)


@pytest.mark.parametrize("error", [NotSignedIn(), SessionEnded()])
def test_an_ended_or_missing_session_is_a_401(error: IdentityError) -> None:
    problem = IDENTITY_PROBLEMS.translate(error)
    assert problem.status == 401
    assert problem.detail == error.detail
