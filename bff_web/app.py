"""The web gateway: the single-page app's only door (cookie session, no token in the browser)."""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.di import Provide

from bff_web.admin import admin_routes
from bff_web.auth import ROUTES as AUTH_ROUTES
from bff_web.auth import cookie_session
from bff_web.errors import handle_identity_error
from bff_web.remote import remote_routes
from bff_web.security import CsrfMiddleware, web_security_headers
from bff_web.spa_routes import ROUTES as SPA_ROUTES
from bff_web.views.api_session import api_session
from bff_web.views.home import home
from bff_web.views.orders import ROUTES as ORDER_ROUTES
from bff_web.views.products import product_page
from core_clients.wiring import CORE, core_data_resource
from shared.identity.errors import IdentityError
from shared.identity.wiring import IDENTITY, identity_resource
from shared.platform.clock import SYSTEM_CLOCK, Clock
from shared.platform.plugin import build_gateway_app
from shared.platform.problem_map import problem_handler
from shared.platform.rate_limits import ClientRateLimitMiddleware, LimitedPath
from shared.platform.settings import Settings, load_settings
from shared.remote.errors import REMOTE_PROBLEMS, RemoteApiError
from shared.remote.wiring import remote_apis_resource
from shared.screens.provider import screen_for_session

CALLBACK_PATH = "/bff/callback"
CLIENT_RATE_LIMITS = {"/bff/login": LimitedPath("login"), CALLBACK_PATH: LimitedPath("login")}


def create_app(settings: Settings | None = None, clock: Clock = SYSTEM_CLOCK) -> Litestar:
    settings = settings or load_settings("web")
    api = Router(  # the /api/* screens and remote APIs: each call counted against its session
        path="/",
        route_handlers=[
            home,
            product_page,
            *ORDER_ROUTES,
            *admin_routes(settings.authz),
            *remote_routes(settings.remote_apis),
        ],
        dependencies={"session": Provide(api_session)},
        middleware=[CsrfMiddleware()],  # X-CSRF: 1 and an allowed Origin on every /api route
    )
    return build_gateway_app(
        settings,
        clock=clock,
        route_handlers=[*AUTH_ROUTES, *SPA_ROUTES, api],
        resources=[identity_resource(CALLBACK_PATH), core_data_resource, remote_apis_resource],
        dependencies={
            "identity": IDENTITY.provide(),
            "core": CORE.provide(),
            "session": Provide(cookie_session),
            "screen": Provide(screen_for_session),
        },
        before_send=[web_security_headers(settings)],
        exception_handlers={
            IdentityError: handle_identity_error,
            RemoteApiError: problem_handler(REMOTE_PROBLEMS),
        },
        middleware=[ClientRateLimitMiddleware(CLIENT_RATE_LIMITS)],
        cors_config=CORSConfig(
            allow_origins=list(settings.allowed_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["X-CSRF", "Content-Type", "Idempotency-Key"],
            expose_headers=["X-Request-Id", "X-BFF-Degraded", "traceresponse"],
        ),
    )
