"""The security headers every response of a gateway carries, errors included.

One ``before_send`` hook for both gateways; each says what differs (its content security
policy, and which paths must never be stored by a cache):

* a CSP, ``nosniff``, ``no-referrer``, no framing, and HSTS in production;
* ``Cache-Control: no-store`` (and ``Pragma: no-cache``) on paths that carry sessions, codes or
  tokens; other paths keep their own ``Cache-Control`` (the mobile screens set validators).
"""

from __future__ import annotations

from collections.abc import Sequence

from litestar.types import BeforeMessageSendHookHandler, Message, Scope

from shared.platform.settings import Settings

HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")
NO_STORE = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))


def security_headers_hook(
    settings: Settings,
    *,
    content_security_policy: str,
    no_store_paths: tuple[str, ...],
    extra: Sequence[tuple[bytes, bytes]] = (),
) -> BeforeMessageSendHookHandler:
    common = [
        (b"content-security-policy", content_security_policy.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        *extra,
    ]
    if settings.is_prod:
        common.append(HSTS)
    with_no_store = [*common, *NO_STORE]

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        path = str(scope.get("path", ""))
        added = with_no_store if path.startswith(no_store_paths) else common
        replaced = {name for name, _ in added}
        headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in replaced]
        message["headers"] = [*headers, *added]

    return add_headers
