"""One reading of an app version, for ``BFF_MOBILE_MIN_APP_VERSION`` and ``X-App-Version``."""

from __future__ import annotations

import pytest

from shared.platform.versions import ANY_VERSION, Version, parse_version


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.3.1", (2, 3, 1)),
        ("2.3", (2, 3, 0)),
        ("2", (2, 0, 0)),
        ("02.010.0", (2, 10, 0)),
        ("999999999.0", (999999999, 0, 0)),
        ("", None),
        (None, None),
        ("v2.3.1", None),
        ("2.3.1-beta", None),
        ("2.3.1+45", None),
        ("2.3.1.4", None),
        ("2..3", None),
        ("2.3.", None),
        (" 2.3.1", None),
        ("\u0662.\u0663.\u0661", None),  # Arabic-Indic digits: str.isdigit() says yes
        ("1" * 10, None),
        ("1234567890.0", None),
    ],
)
def test_versions_parse_as_up_to_three_ascii_numbers_of_at_most_nine_digits(
    value: str | None, expected: tuple[int, int, int] | None
) -> None:
    assert parse_version(value) == expected


def test_versions_compare_as_numbers_not_strings() -> None:
    assert Version(2, 10, 0) > Version(2, 9, 9)
    assert parse_version("2.10") == Version(2, 10, 0)
    assert Version(0, 0, 1) > ANY_VERSION


def test_a_version_prints_in_full() -> None:
    """``bff config check`` shows the minimum the gate will use, not the text it came from."""
    assert str(parse_version("2.3")) == "2.3.0"
    assert str(Version(4)) == "4.0.0"
