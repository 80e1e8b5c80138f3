"""Labels in the user's locale: the accounts service's BCP 47 tag becomes Babel's, and a tag
Babel does not know falls back to the default instead of failing the screen."""

from __future__ import annotations

import pytest

from bff_web.formatting import DEFAULT_LOCALE, babel_locale, date_label, money_label
from core_clients.base import Money


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("en-GB", "en_GB"),
        ("de-DE", "de_DE"),
        ("fr", "fr"),
        (None, DEFAULT_LOCALE),
        ("", DEFAULT_LOCALE),
        ("xx-YY", DEFAULT_LOCALE),
        ("not a tag", DEFAULT_LOCALE),
    ],
)
def test_a_tag_becomes_a_babel_locale_or_the_default(tag: str | None, expected: str) -> None:
    assert babel_locale(tag) == expected
    assert babel_locale(tag) == expected  # the second answer comes from the cache, unchanged


def test_money_is_written_for_the_locale() -> None:
    price = Money(amount_minor=123456, currency="EUR")
    assert money_label(price, babel_locale("de-DE")) == "1.234,56\xa0€"
    assert money_label(price, babel_locale("en-GB")) == "€1,234.56"


def test_dates_are_written_for_the_locale() -> None:
    for _ in range(2):  # the second answer comes from the cache, unchanged
        assert date_label("2026-03-01T09:30:00Z", "en_GB") == "1 Mar 2026"
        assert date_label("2026-03-01T09:30:00Z", "de_DE") == "01.03.2026"
