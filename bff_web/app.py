"""The web gateway: the single-page app's only door (cookie session, no token in the browser)."""

from __future__ import annotations

from litestar import Litestar

from shared.plugin import build_gateway_app
from shared.settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings("web")
    return build_gateway_app(settings, route_handlers=[])
