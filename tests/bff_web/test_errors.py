"""The web gateway's one map from identity errors to problems: complete, and never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from bff_web.errors import IDENTITY_PROBLEMS, handle_identity_error
from shared.identity.errors import (
    IdentityError,
    IdpUnavailable,
    NotSignedIn,
    OidcError,
    SessionEnded,
)
from shared.platform.errors import RETRY_AFTER_S
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


@get("/bff/login-while-idp-is-away")
async def login_while_idp_is_away() -> None:
    raise IdpUnavailable()


@pytest.fixture(scope="module")
def web_client() -> Iterator[TestClient[Litestar]]:
    app = Litestar(
        [login_while_idp_is_away], exception_handlers={IdentityError: handle_identity_error}
    )
    with TestClient(app) as client:
        yield client


def test_a_browser_navigation_gets_a_page_when_the_idp_is_away(
    web_client: TestClient[Litestar],
) -> None:
    """A person clicking "log in" sees a page; the 503 and Retry-After are the same."""
    page = web_client.get(
        "/bff/login-while-idp-is-away", headers={"Accept": "text/html,application/xhtml+xml"}
    )
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == str(RETRY_AFTER_S)
    assert "Sign-in is unavailable" in page.text


def test_the_spa_gets_a_problem_when_the_idp_is_away(web_client: TestClient[Litestar]) -> None:
    problem = web_client.get("/bff/login-while-idp-is-away", headers={"Accept": "*/*"})
    assert problem.status_code == 503
    assert problem.headers["content-type"] == "application/problem+json"
    assert problem.headers["retry-after"] == str(RETRY_AFTER_S)
