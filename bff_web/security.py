"""Browser-facing defences of the web gateway: CSRF check, local-only return URLs, headers.

* CSRF: every JSON endpoint needs ``X-CSRF: 1`` (a custom header a cross-site form or image
  cannot send, and that a cross-origin ``fetch`` can only send after a CORS preflight we do not
  grant), and an ``Origin``, when the browser sends one, from ``BFF_ALLOWED_ORIGINS``. The
  session cookie is also ``SameSite=Strict``. Every ``/api`` route gets the check from its
  router (``CsrfMiddleware``); the few ``/bff`` JSON endpoints name ``csrf_guard``.
* Open redirects: ``returnUrl`` must be a local path, checked on every decoding of it.
* Cookie bombs: ``returnUrl`` is kept in the login cookie, so it is limited in bytes as it is
  sent (percent-encoded UTF-8: an ``é`` counts six), not in characters.
* Headers: a CSP that allows only this origin's scripts and no framing, nosniff, no referrer,
  and ``Cache-Control: no-store`` on ``/bff/*``.
"""

from __future__ import annotations

import re
import string
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from litestar.connection import ASGIConnection
from litestar.datastructures import Headers
from litestar.handlers.base import BaseRouteHandler
from litestar.types import BeforeMessageSendHookHandler, Scope

from shared.platform.errors import BadRequest, Forbidden
from shared.platform.plugin import SETTINGS
from shared.platform.router_checks import RouterCheck
from shared.platform.security_headers import security_headers_hook
from shared.platform.settings import Settings

CSRF_HEADER = "x-csrf"
MAX_RETURN_URL_BYTES = 512
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")


async def csrf_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard for JSON endpoints: the anti-forgery header and an allowed Origin.

    Async on purpose: Litestar runs a sync guard in a worker thread, a hop per request."""
    check_csrf(connection.headers, SETTINGS.get(connection.app.state))


class CsrfMiddleware(RouterCheck):
    """``csrf_guard``'s check for every route of a router (the ``/api`` screens and remote
    APIs), before the session is read, as the guard ran (``shared.platform.router_checks``)."""

    def check(self, headers: Headers, scope: Scope) -> None:
        check_csrf(headers, SETTINGS.get(scope["litestar_app"].state))


def check_csrf(headers: Headers, settings: Settings) -> None:
    check_origin(headers.get("origin"), settings)
    if headers.get(CSRF_HEADER) != "1":
        raise Forbidden("The X-CSRF: 1 header is required")


def check_origin(origin: str | None, settings: Settings) -> None:
    if origin is not None and origin.rstrip("/") not in settings.allowed_origins:
        raise Forbidden("This origin is not allowed")


def validate_return_url(value: str | None) -> str:
    """A local path to go back to after login, or 400: never a way off this site."""
    if value is None or value == "":
        return "/"
    if len(value) > MAX_RETURN_URL_BYTES or encoded_length(value) > MAX_RETURN_URL_BYTES:
        raise BadRequest(f"returnUrl is longer than {MAX_RETURN_URL_BYTES} bytes")
    once = unquote(value)
    if unquote(once) != once:
        raise BadRequest("returnUrl must not be encoded more than once")
    for candidate in (value, once):
        parts = urlsplit(candidate)
        if (
            not candidate.startswith("/")
            or candidate.startswith("//")
            or "\\" in candidate
            or _CONTROL_OR_SPACE.search(candidate)
            or parts.scheme
            or parts.netloc
        ):
            raise BadRequest("returnUrl must be a local path such as /orders")
    return value


def encoded_length(url: str) -> int:
    """Bytes of ``url`` percent-encoded as UTF-8, as a browser sends and stores it."""
    return len(quote(url, safe=string.punctuation))


def image_sources(settings: Settings) -> str:
    """Product images come from the catalog's CDN over https. Outside production the catalog's
    own origin is allowed too: the dev stubs serve the images themselves, over plain http. In
    production it is not named, so the header never shows an internal host."""
    sources = ["'self'", "https:", "data:"]
    if not settings.is_prod:
        catalog = urlsplit(settings.core_service("catalog").url)
        sources.append(f"{catalog.scheme}://{catalog.netloc}")
    return " ".join(sources)


def content_security_policy(settings: Settings) -> str:
    issuer = urlsplit(settings.oidc_issuer)
    issuer_origin = f"{issuer.scheme}://{issuer.netloc}"
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {image_sources(settings)}",
            "connect-src 'self'",
            "font-src 'self'",
            "manifest-src 'self'",
            "base-uri 'none'",
            f"form-action 'self' {issuer_origin}",
            "frame-ancestors 'none'",
        ]
    )


def web_security_headers(settings: Settings) -> BeforeMessageSendHookHandler:
    """Every response: this CSP, and no caching of anything under ``/bff/`` or ``/api/``."""
    return security_headers_hook(
        settings,
        content_security_policy=content_security_policy(settings),
        no_store_paths=("/bff/", "/api/"),
        extra=[(b"cross-origin-opener-policy", b"same-origin")],
    )
