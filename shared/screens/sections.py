"""The one map from a screen's part names to the section names clients see.

A part's name is what traces and logs call it (``bff.part``, ``part_degraded``, the fan-out's
``bff.degraded``); its public name is what ``degraded`` and the ``X-BFF-Degraded`` header say
when the part could not be loaded. Both gateways take the public names from here only (the
screens of ``shared.screens`` put them in their data), so a section is called the same on the
web and in the app. Every part name a screen uses is a ``PartName`` (mypy holds the screens to
it), and ``PUBLIC_NAMES`` has an entry for each (a test holds the map to it).

``None`` hides a part: the account only sets the locale (web) or is required (home), so a
screen without it is still complete and the user is not told about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final, Literal

__all__ = ["DEGRADED_HEADER", "PUBLIC_NAMES", "PartName", "public_names"]

DEGRADED_HEADER: Final = "X-BFF-Degraded"

PartName = Literal[
    "account",
    "orders",
    "recommendations",
    "product",
    "availability",
    "related",
    "products",
]

PUBLIC_NAMES: Final[Mapping[str, str | None]] = MappingProxyType(
    {
        "account": None,
        "orders": "orders",
        "recommendations": "recommendations",
        "product": "product",
        "availability": "availability",
        "related": "related",
        "products": "products",
    }
)


def public_names(degraded_parts: Iterable[str]) -> list[str]:
    """The sections to name as missing, in the parts' order, hidden parts left out."""
    shown: dict[str, None] = {}
    for part in degraded_parts:
        if part not in PUBLIC_NAMES:
            raise LookupError(f"the part {part!r} has no entry in PUBLIC_NAMES")
        public = PUBLIC_NAMES[part]
        if public is not None:
            shown[public] = None
    return list(shown)
