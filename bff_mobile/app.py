"""The mobile gateway: token handler and compact screen API for native apps."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.types import Message, Scope

from bff_mobile.auth import ROUTES as AUTH_ROUTES
from bff_mobile.auth import me
from bff_mobile.tokens import bearer_session
from bff_mobile.versioning import app_version_guard
from bff_mobile.views.screens import ROUTES as SCREEN_ROUTES
from core_clients.wiring import CORE, core_data_resource
from shared.identity.wiring import IDENTITY, identity_resource
from shared.platform.plugin import build_gateway_app
from shared.platform.settings import Settings, load_settings
from shared.screens.provider import screen_for_mobile_session

CALLBACK_PATH = "/auth/callback"
API_PREFIX = "/m/v1"


def security_headers_hook(settings: Settings) -> Any:
    """A ``before_send`` hook for every response, errors and the sign-in error page included.

    Nothing here is meant to be rendered by a browser but that page, so the policy allows
    nothing at all (no scripts, no framing, no form posts). ``/auth/*`` answers carry codes,
    tokens or a login cookie: never stored by any cache. ``/m/v1/*`` keeps its own
    ``Cache-Control``, since the screens set validators for revalidation.
    """
    common = [
        (
            b"content-security-policy",
            b"default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    ]
    if settings.is_prod:
        common.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    no_store = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        added = [*common, *no_store] if str(scope.get("path", "")).startswith("/auth/") else common
        replaced = {name for name, _ in added}
        headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in replaced]
        message["headers"] = [*headers, *added]

    return add_headers


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings("mobile")
    screens = Router(
        path=API_PREFIX,
        route_handlers=[me, *SCREEN_ROUTES],
        guards=[app_version_guard(settings.mobile_min_app_version, settings.mobile_upgrade_url)],
        dependencies={
            "mobile_session": Provide(bearer_session),
            "screen": Provide(screen_for_mobile_session),
        },
    )
    return build_gateway_app(
        settings,
        route_handlers=[*AUTH_ROUTES, screens],
        resources=[identity_resource(CALLBACK_PATH), core_data_resource],
        dependencies={"identity": IDENTITY.provide(), "core": CORE.provide()},
        before_send=[security_headers_hook(settings)],
    )
