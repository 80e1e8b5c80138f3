"""JSON request bodies, read only once the caller is known, strictly typed and bounded.

A handler that takes a JSON body reads it with :func:`read_json_body` from its own code, after
its dependencies (the session first) resolved: an anonymous caller gets its 401 before a byte
of its body is decoded, and whatever a body holds can only be a 4xx problem, never a 500:

* the media type must be JSON (``application/json`` or ``application/*+json``), else 415;
* the body is at most the route's ``request_max_body_size`` (``JSON_BODY_MAX_BYTES`` for the
  handlers here), else 413, from Litestar as it reads;
* arrays and objects nest at most ``MAX_JSON_DEPTH`` deep, counted before decoding;
* the bytes must be UTF-8 JSON, and every field of its own JSON type (msgspec's strict mode:
  ``"5"``, ``5.0`` or ``1e1`` is no integer), else 400.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request

from shared.platform.errors import BadRequest, UnsupportedMediaType

JSON_BODY_MAX_BYTES = 16 * 1024
MAX_JSON_DEPTH = 32

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_OPENING = frozenset(b"[{")

BodyT = TypeVar("BodyT")


def is_json_media_type(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def check_nesting(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> None:
    """400 when arrays and objects nest deeper than ``max_depth`` (strings do not count)."""
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b"", body)):
        if bracket.group()[0] in _OPENING:
            depth += 1
            if depth > max_depth:
                raise BadRequest(f"The body nests deeper than {max_depth} levels")
        else:
            depth -= 1


def decode_json_body(body: bytes, content_type: str | None, target: type[BodyT]) -> BodyT:
    """``body`` as ``target``, or a 4xx ``GatewayError`` saying what is wrong with it."""
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType("The body must be application/json")
    check_nesting(body)
    try:
        return msgspec.json.decode(body, type=target, strict=True)
    except msgspec.ValidationError as exc:
        raise BadRequest(
            "The request is not valid",
            extra={"errors": [{"key": "body", "message": str(exc)[:200]}]},
        ) from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise BadRequest("The body is not UTF-8 JSON") from None


async def read_json_body(request: Request[Any, Any, Any], target: type[BodyT]) -> BodyT:
    """The request's body as ``target``; call it from the handler, after authentication."""
    return decode_json_body(await request.body(), request.headers.get("content-type"), target)
