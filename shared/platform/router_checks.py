"""A check of a request's headers for every route of a router, before the session is read.

The web gateway's CSRF check and the app gateway's version gate run on every screen. As route
guards they cost a copy of the route handler per call (Litestar hands one to every guard call,
about 30 us of a cached screen's time); as a router's middleware they run once per request, at
the same point: before any dependency, so before the session is read. Litestar's own answer to
``OPTIONS`` is left unchecked, as the guards never ran on it either.
"""

from __future__ import annotations

from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ["RouterCheck"]


class RouterCheck(ASGIMiddleware):
    """Runs ``check`` on every request of the router it is given to; a refusal is raised as the
    gateway's problem (the app's exception handlers answer it)."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("method") != "OPTIONS":
            self.check(Headers.from_scope(scope), scope)
        await next_app(scope, receive, send)

    def check(self, headers: Headers, scope: Scope) -> None:
        """Raise to refuse the request."""
        raise NotImplementedError
