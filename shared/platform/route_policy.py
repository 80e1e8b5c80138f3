"""Where a route handler declares its authorization policy: one key of Litestar's ``opt``.

Policies are the identity layer's (``shared.identity.policy``); the platform only names the
key and the marker of a route that needs no session, so that its own routes (health, metrics,
the OpenAPI document) can declare themselves public without importing the identity layer.
"""

from __future__ import annotations

from typing import Any, Final

POLICY_OPT: Final = "policy"
PUBLIC_MARKER: Final = "public"
PUBLIC_ROUTE: Final[dict[str, Any]] = {POLICY_OPT: PUBLIC_MARKER}
"""``opt=PUBLIC_ROUTE``: anyone may call this route, signed in or not."""
