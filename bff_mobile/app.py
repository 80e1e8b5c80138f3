"""The mobile gateway: token handler and compact screen API for native apps."""

from __future__ import annotations

from litestar import Litestar

from shared.plugin import build_gateway_app
from shared.settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings("mobile")
    return build_gateway_app(settings, route_handlers=[])
