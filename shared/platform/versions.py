"""App versions (``MAJOR[.MINOR[.PATCH]]``): one parser for the setting and for the gate.

``BFF_MOBILE_MIN_APP_VERSION`` and every request's ``X-App-Version`` are read by
``parse_version`` alone. With a rule each, a minimum could pass ``bff config check`` and then
stop the gateway at start-up (``1234567890.0`` once did); now the settings hold the parsed
``Version`` and the gate compares against exactly that.

Each part is 1 to 9 ASCII digits, compared as numbers (2.10 > 2.9); missing parts count as 0.
Anything else (pre-release tags, build suffixes, a ``v`` prefix, non-ASCII digits, a tenth
digit) is malformed: an app sends its marketing version, and a strict format keeps the
comparison unambiguous.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_VERSION = re.compile(r"([0-9]{1,9})(?:\.([0-9]{1,9}))?(?:\.([0-9]{1,9}))?")


class Version(NamedTuple):
    """A version as three numbers, so that comparing two is comparing tuples."""

    major: int
    minor: int = 0
    patch: int = 0

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


ANY_VERSION = Version(0, 0, 0)
"""The lowest version there is: a minimum that lets every app through."""


def parse_version(text: str | None) -> Version | None:
    """``"2.3"`` -> ``Version(2, 3, 0)``; None for anything that is not a version."""
    if text is None:
        return None
    match = _VERSION.fullmatch(text)
    if match is None:
        return None
    major, minor, patch = (int(part) if part else 0 for part in match.groups())
    return Version(major, minor, patch)
