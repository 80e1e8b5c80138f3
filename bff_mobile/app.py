"""The mobile gateway: token handler and compact screen API for native apps."""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.types import BeforeMessageSendHookHandler

from bff_mobile.auth import ROUTES as AUTH_ROUTES
from bff_mobile.auth import me
from bff_mobile.errors import (
    IDENTITY_PROBLEMS,
    OAuthError,
    handle_oauth_error,
    token_rate_limited,
)
from bff_mobile.remote import remote_routes
from bff_mobile.tokens import api_bearer_session
from bff_mobile.versioning import AppVersionMiddleware
from bff_mobile.views.screens import ROUTES as SCREEN_ROUTES
from core_clients.wiring import CORE, core_data_resource
from shared.identity.errors import IdentityError
from shared.identity.wiring import IDENTITY, identity_resource
from shared.platform.clock import SYSTEM_CLOCK, Clock
from shared.platform.plugin import build_gateway_app
from shared.platform.problem_map import problem_handler
from shared.platform.rate_limits import ClientRateLimitMiddleware, LimitedPath
from shared.platform.security_headers import security_headers_hook
from shared.platform.settings import Settings, load_settings
from shared.remote.errors import REMOTE_PROBLEMS, RemoteApiError
from shared.remote.wiring import remote_apis_resource
from shared.screens.provider import screen_for_mobile_session

CALLBACK_PATH = "/auth/callback"
API_PREFIX = "/m/v1"
CLIENT_RATE_LIMITS = {
    "/auth/authorize": LimitedPath("login"),
    CALLBACK_PATH: LimitedPath("login"),
    "/auth/token": LimitedPath("token", refuse=token_rate_limited),
}


def mobile_security_headers(settings: Settings) -> BeforeMessageSendHookHandler:
    """Nothing here is meant to be rendered by a browser but the sign-in error page, so the
    policy allows nothing at all (no scripts, no framing, no form posts). ``/auth/*`` answers
    carry codes, tokens or a login cookie: never stored by any cache. ``/m/v1/*`` keeps its own
    ``Cache-Control``, since the screens set validators for revalidation."""
    return security_headers_hook(
        settings,
        content_security_policy=(
            "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
        no_store_paths=("/auth/",),
    )


def create_app(settings: Settings | None = None, clock: Clock = SYSTEM_CLOCK) -> Litestar:
    settings = settings or load_settings("mobile")
    app_version = AppVersionMiddleware(settings.mobile_min_app_version, settings.mobile_upgrade_url)
    screens = Router(
        path=API_PREFIX,
        route_handlers=[me, *SCREEN_ROUTES],
        middleware=[app_version],
        dependencies={
            "mobile_session": Provide(api_bearer_session),
            "screen": Provide(screen_for_mobile_session),
        },
    )
    remote = Router(  # full paths under /m/v1/remote/, checked as the screens are
        path="/",
        route_handlers=remote_routes(settings.remote_apis),
        middleware=[app_version],
        dependencies={"mobile_session": Provide(api_bearer_session)},
    )
    return build_gateway_app(
        settings,
        clock=clock,
        route_handlers=[*AUTH_ROUTES, screens, remote],
        resources=[identity_resource(CALLBACK_PATH), core_data_resource, remote_apis_resource],
        dependencies={"identity": IDENTITY.provide(), "core": CORE.provide()},
        before_send=[mobile_security_headers(settings)],
        exception_handlers={
            IdentityError: problem_handler(IDENTITY_PROBLEMS),
            RemoteApiError: problem_handler(REMOTE_PROBLEMS),
            OAuthError: handle_oauth_error,
        },
        middleware=[ClientRateLimitMiddleware(CLIENT_RATE_LIMITS)],
    )
