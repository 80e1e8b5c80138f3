"""The web gateway's remote API routes, one per ``[[api]]`` of ``BFF_REMOTE_APIS_FILE``.

Each is checked as a screen is: ``X-CSRF: 1`` and the Origin rule (the api router's
``CsrfMiddleware``), the session cookie (``session``, counted against the session's API rate),
and the API's declared policy, all before any upstream call; then ``shared.remote`` forwards it.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, route
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.response.base import ASGIResponse

from shared.identity.records import SessionRecord
from shared.platform.remote_api_settings import RemoteApiSettings
from shared.remote.endpoint import forward_request
from shared.remote.routes import REMOTE_METHODS, remote_route_options


def remote_routes(apis: tuple[RemoteApiSettings, ...]) -> list[HTTPRouteHandler]:
    return [_route(api) for api in apis]


def _route(api: RemoteApiSettings) -> HTTPRouteHandler:
    @route(http_method=REMOTE_METHODS, **remote_route_options(api))
    async def forward(
        request: Request[Any, Any, Any], session: NamedDependency[SessionRecord]
    ) -> ASGIResponse:
        return await forward_request(request, session, api.name)

    return forward
