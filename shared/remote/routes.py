"""What every remote API route declares, whichever gateway serves it: its two paths (the API's
prefix itself and anything under it), methods, policy, body limit and name."""

from __future__ import annotations

from typing import Any, Final

from litestar.enums import HttpMethod

from shared.identity.policy import declare, requires
from shared.platform.remote_api_settings import RemoteApiSettings

REMOTE_METHODS: Final = [
    HttpMethod.GET,
    HttpMethod.POST,
    HttpMethod.PUT,
    HttpMethod.PATCH,
    HttpMethod.DELETE,
]


def remote_route_options(api: RemoteApiSettings) -> dict[str, Any]:
    """The route's keyword arguments. The API's policy is the route's (``authenticated`` when it
    declares none); the body limit is the API's ``max_request_bytes``; the upstream documents
    itself, so the routes stay out of the gateway's OpenAPI document."""
    policy = requires(roles=api.roles, scopes=api.scopes, max_auth_age_s=api.max_auth_age_s)
    return {
        "path": [api.path, api.path + "/{rest:path}"],
        "opt": declare(policy),
        "name": f"remote-{api.name}",
        "request_max_body_size": api.max_request_bytes,
        "include_in_schema": False,
    }
