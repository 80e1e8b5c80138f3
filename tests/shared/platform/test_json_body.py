"""Reading JSON bodies: media type, nesting, UTF-8 and strict types, each a 4xx error."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from shared.platform.errors import BadRequest, UnsupportedMediaType
from shared.platform.json_body import MAX_JSON_DEPTH, check_nesting, decode_json_body


class Line(msgspec.Struct):
    name: str
    quantity: Annotated[int, msgspec.Meta(ge=1)]


def test_nesting_is_counted_outside_strings_only() -> None:
    check_nesting(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    check_nesting(b'{"name": "' + b"[{" * 500 + b'\\"[[["}')
    with pytest.raises(BadRequest, match="deeper"):
        check_nesting(b"[" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(BadRequest, match="deeper"):
        check_nesting(b'{"a": "\\"", "b": ' + b"[" * 100_000)


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/x+json"]
)
def test_json_media_types_are_read(content_type: str) -> None:
    line = decode_json_body(b'{"name": "tea", "quantity": 2}', content_type, Line)
    assert line == Line("tea", 2)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_other_media_types_are_415(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType):
        decode_json_body(b'{"name": "tea", "quantity": 2}', content_type, Line)


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "tea", "quantity": "2"}',
        b'{"name": "tea", "quantity": 2.0}',
        b'{"name": "tea", "quantity": 1e1}',
        b'{"name": 7, "quantity": 2}',
        b'{"name": "t\xffa", "quantity": 2}',
        b'{"name": "tea", "quantity": 2',
        b"\xff",
    ],
)
def test_loose_types_and_broken_bytes_are_400(body: bytes) -> None:
    with pytest.raises(BadRequest):
        decode_json_body(body, "application/json", Line)
