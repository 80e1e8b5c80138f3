"""The ``X-App-Version`` gate in front of the app's API (``/m/v1/*``).

Installed apps cannot be updated from the server. When a screen's contract changes in a way old
apps cannot handle (or an old app has a security bug), ``BFF_MOBILE_MIN_APP_VERSION`` is raised
and older apps get a 426 problem carrying ``upgradeUrl``, which they show as "please update"
instead of failing in ways nobody can debug. A request without a readable version is a 400, not
a pass: an unversioned caller would otherwise slip past every future gate.

What a version is, for the header and the setting alike, is ``shared.platform.versions``: the
minimum arrives already parsed in the settings, so the gate cannot disagree with
``bff config check``.
"""

from __future__ import annotations

from litestar.datastructures import Headers
from litestar.types import Scope

from shared.platform.errors import BadRequest, UpgradeRequired
from shared.platform.router_checks import RouterCheck
from shared.platform.versions import Version, parse_version

APP_VERSION_HEADER = "x-app-version"


class AppVersionMiddleware(RouterCheck):
    """Refuses apps older than ``minimum`` on every route of a router, before the session is
    read (``shared.platform.router_checks``)."""

    def __init__(self, minimum: Version, upgrade_url: str) -> None:
        self.minimum = minimum
        self.upgrade_url = upgrade_url

    def check(self, headers: Headers, scope: Scope) -> None:
        sent = headers.getall(APP_VERSION_HEADER, [])
        if len(sent) > 1:
            # Which one would count is up to each proxy and server on the way: refuse both.
            raise BadRequest("The X-App-Version header must be sent once")
        version = parse_version(sent[0] if sent else None)
        if version is None:
            raise BadRequest("The X-App-Version header must be a version such as 2.3.1")
        if version < self.minimum:
            raise UpgradeRequired(
                "This version of the app is no longer supported; please update it",
                extra={"upgradeUrl": self.upgrade_url},
            )
