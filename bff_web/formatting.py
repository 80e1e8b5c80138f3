"""Display strings for the SPA, in the user's locale and currency (Babel, CLDR data).

The web client gets display-ready labels so it never formats money or dates itself; the raw
values ride along for sorting and accessibility.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, get_currency_precision

from core_clients.base import Money

DEFAULT_LOCALE = "en_GB"
STATUS_LABELS = {
    "placed": "Placed",
    "paid": "Paid",
    "shipped": "Shipped",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
    "returned": "Returned",
}


def babel_locale(tag: str | None) -> str:
    """``en-GB`` (BCP 47, as accounts stores it) to ``en_GB``; unknown tags fall back."""
    if not tag:
        return DEFAULT_LOCALE
    return _parsed_locale(tag)


@lru_cache(maxsize=1024)
def _parsed_locale(tag: str) -> str:
    """Cached: parsing against CLDR costs more than the rest of a label, on every screen, and
    users share a few hundred tags at most (bounded all the same)."""
    try:
        return str(Locale.parse(tag.replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        return DEFAULT_LOCALE


def money_label(money: Money, locale: str) -> str:
    return _money_label(money.amount_minor, money.currency, locale)


@lru_cache(maxsize=8192)
def _money_label(amount_minor: int, currency: str, locale: str) -> str:
    """Cached: CLDR formatting costs ~100 µs a call, and a catalog has few distinct prices."""
    digits = get_currency_precision(currency)
    amount = Decimal(amount_minor).scaleb(-digits)
    return format_currency(amount, currency, locale=locale)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def date_label(value: str | date, locale: str) -> str:
    day = parse_time(value).date() if isinstance(value, str) else value
    return _date_label(day, locale)


@lru_cache(maxsize=8192)
def _date_label(day: date, locale: str) -> str:
    """Cached as the money labels are: CLDR formatting costs tens of µs a date, a home screen
    shows several, and orders fall on few distinct days."""
    return format_date(day, format="medium", locale=locale)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def availability_label(in_stock: bool, quantity: int, restock_date: str | None, locale: str) -> str:
    if in_stock and quantity > 10:
        return "In stock"
    if in_stock and quantity > 0:
        return f"Only {quantity} left"
    if restock_date:
        return f"Back on {date_label(date.fromisoformat(restock_date[:10]), locale)}"
    return "Out of stock"
