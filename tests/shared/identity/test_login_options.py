"""A step-up login: ``prompt=login`` and ``max_age`` asked of the IdP, and its answer checked."""

from __future__ import annotations

import pytest

from shared.identity.errors import OidcError
from shared.identity.login import LoginOptions, check_login_age, parse_login_options
from shared.identity.provider_jwts import CLOCK_LEEWAY_S

NOW = 1_800_000_000


def test_login_options_are_read_strictly() -> None:
    assert parse_login_options(None, None) == LoginOptions()
    assert parse_login_options("login", "600") == LoginOptions(prompt_login=True, max_age=600)
    assert parse_login_options("", "0") == LoginOptions(max_age=0)
    for prompt, max_age in [
        ("none", None),
        ("consent", None),
        ("login consent", None),
        (None, "-1"),
        (None, "1e3"),
        (None, "٣"),
        (None, "86401"),
    ]:
        with pytest.raises(ValueError, match=r"prompt|max_age"):
            parse_login_options(prompt, max_age)


def test_a_login_asked_with_max_age_must_be_that_recent_by_the_idps_own_clock() -> None:
    check_login_age({"iat": NOW, "auth_time": NOW - 600}, 600)
    check_login_age({"iat": NOW, "auth_time": NOW - 600 - CLOCK_LEEWAY_S}, 600)
    with pytest.raises(OidcError, match="older than the max_age"):
        check_login_age({"iat": NOW, "auth_time": NOW - 601 - CLOCK_LEEWAY_S}, 600)
    for silent in ({"iat": NOW}, {"iat": NOW, "auth_time": "yesterday"}, {"auth_time": NOW}):
        with pytest.raises(OidcError, match="does not say when"):
            check_login_age(silent, 600)
