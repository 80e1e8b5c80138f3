"""The ``X-App-Version`` gate in front of the app's API (``/m/v1/*``).

Installed apps cannot be updated from the server. When a screen's contract changes in a way old
apps cannot handle (or an old app has a security bug), ``BFF_MOBILE_MIN_APP_VERSION`` is raised
and older apps get a 426 problem carrying ``upgradeUrl``, which they show as "please update"
instead of failing in ways nobody can debug. A request without a readable version is a 400, not
a pass: an unversioned caller would otherwise slip past every future gate.

Versions are ``MAJOR[.MINOR[.PATCH]]`` of ASCII digits, compared as numbers (2.10 > 2.9);
missing parts count as 0. Anything else (pre-release tags, build suffixes, a ``v`` prefix) is
malformed: the app sends its marketing version, and a strict format keeps the comparison
unambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from shared.platform.errors import BadRequest, UpgradeRequired

APP_VERSION_HEADER = "x-app-version"

AppVersion = tuple[int, int, int]
Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]

_VERSION = re.compile(r"([0-9]{1,9})(?:\.([0-9]{1,9}))?(?:\.([0-9]{1,9}))?")


def parse_app_version(value: str | None) -> AppVersion | None:
    """``"2.3"`` -> ``(2, 3, 0)``; None for anything that is not a version."""
    if value is None:
        return None
    match = _VERSION.fullmatch(value)
    if match is None:
        return None
    major, minor, patch = (int(part) if part else 0 for part in match.groups())
    return major, minor, patch


def app_version_guard(min_version: str, upgrade_url: str) -> Guard:
    """A Litestar guard refusing apps older than ``min_version`` (checked once, at start-up)."""
    minimum = parse_app_version(min_version)
    if minimum is None:
        raise ValueError(f"the minimum app version {min_version!r} is not a version")

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        # Async on purpose: Litestar runs a sync guard in a worker thread, a hop per request.
        version = parse_app_version(connection.headers.get(APP_VERSION_HEADER))
        if version is None:
            raise BadRequest("The X-App-Version header must be a version such as 2.3.1")
        if version < minimum:
            raise UpgradeRequired(
                "This version of the app is no longer supported; please update it",
                extra={"upgradeUrl": upgrade_url},
            )

    return guard
