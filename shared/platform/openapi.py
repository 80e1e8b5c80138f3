"""The OpenAPI document each gateway serves at ``/schema/openapi.json``, saying what its errors
really are.

Litestar documents the 400 its parameter validation may raise as ``application/json`` with its
own body; both gateways answer every error as ``application/problem+json`` (``errors.py``). This
render plugin rewrites each documented error response to the problem format once, when the
document is first asked for, so clients and contract tests (``tests/e2e/test_openapi_fuzz.py``)
read what is sent. Operations that own their error format (the OAuth errors of a token
endpoint) name it themselves and are left alone.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec
from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin

from shared.platform.errors import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "traceId"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "traceId": {"type": "string"},
    },
}
_LITESTAR_ERROR_MEDIA_TYPE = "application/json"


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` whose Litestar-made error responses are problem+json."""
    documented = copy.deepcopy(schema)
    for path_item in documented.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                content = response.get("content")
                if status.isdigit() and int(status) >= 400 and _made_by_litestar(content):
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}
    return documented


def _made_by_litestar(content: dict[str, Any] | None) -> bool:
    """Litestar's own error entry (``status_code``, ``detail``, ``extra``), not one a handler
    declared for itself."""
    if not content or set(content) != {_LITESTAR_ERROR_MEDIA_TYPE}:
        return False
    properties = content[_LITESTAR_ERROR_MEDIA_TYPE].get("schema", {}).get("properties", {})
    return {"status_code", "detail"} <= set(properties)


class ProblemDocumentingJsonPlugin(JsonRenderPlugin):
    """``/schema/openapi.json`` with the gateways' error format, rendered once."""

    def __init__(self) -> None:
        super().__init__()
        self._rendered: bytes | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._rendered is None:
            self._rendered = msgspec.json.encode(document_problems(openapi_schema))
        return self._rendered
