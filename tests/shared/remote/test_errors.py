"""The remote layer's one error map: every error named, each the status the issue asks for
(502/503/504 problems), and both gateways answering with it."""

from __future__ import annotations

import pytest

from bff_mobile.app import create_app as create_mobile_app
from bff_web.app import create_app as create_web_app
from shared.platform.settings import load_settings
from shared.remote import errors as remote
from shared.remote.errors import REMOTE_PROBLEMS


def test_the_map_names_every_remote_error() -> None:
    assert REMOTE_PROBLEMS.unmapped() == []


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (remote.RemoteApiUnavailable, 503, "remote-api-unavailable"),
        (remote.RemoteApiBreakerOpen, 503, "remote-api-unavailable"),
        (remote.RemoteApiTokenUnavailable, 503, "remote-api-unavailable"),
        (remote.RemoteApiTimeout, 504, "remote-api-timeout"),
        (remote.RemoteApiBadGateway, 502, "remote-api-failed"),
        (remote.RemoteApiError, 502, "remote-api-failed"),
    ],
)
def test_each_failure_is_its_problem(
    error: type[remote.RemoteApiError], status: int, slug: str
) -> None:
    problem = REMOTE_PROBLEMS.translate(error("reviews", "reviews is unavailable"))
    assert (problem.status, problem.slug, problem.detail) == (
        status,
        slug,
        "reviews is unavailable",
    )


@pytest.mark.parametrize("create_app", [create_web_app, create_mobile_app])
def test_both_gateways_answer_remote_errors_with_the_map(create_app: object) -> None:
    gateway = "web" if create_app is create_web_app else "mobile"
    app = create_app(load_settings(gateway, {}))  # type: ignore[operator]
    assert remote.RemoteApiError in app.exception_handlers
