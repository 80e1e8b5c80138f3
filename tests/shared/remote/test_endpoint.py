"""The path a remote API call forwards: the rest after the prefix, as the caller encoded it, and
never a dot segment."""

from __future__ import annotations

import pytest

from shared.platform.errors import BadRequest
from shared.remote.endpoint import rest_of_path

PREFIX = "/api/remote/reviews"


def scope(raw: bytes, path: str) -> dict[str, object]:
    return {"raw_path": raw, "path": path}


def test_the_rest_keeps_the_callers_encoding() -> None:
    assert rest_of_path(
        scope(b"/api/remote/reviews/a%20b/c%2Fd", "/api/remote/reviews/a b/c/d"), PREFIX
    ) == ("/a%20b/c%2Fd")
    assert rest_of_path(scope(b"/api/remote/reviews", "/api/remote/reviews"), PREFIX) == ""


def test_an_encoded_prefix_still_forwards_the_rest() -> None:
    """Routing matched the decoded path; the rest is then encoded again from it."""
    forwarded = rest_of_path(
        scope(b"/api/remote/r%65views/a%20b", "/api/remote/reviews/a b"), PREFIX
    )
    assert forwarded == "/a%20b"


@pytest.mark.parametrize(
    "raw",
    [b"/api/remote/reviews/..", b"/api/remote/reviews/a/%2e%2e/b", b"/api/remote/reviews/./a"],
)
def test_a_dot_segment_is_refused(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        rest_of_path(scope(raw, raw.decode()), PREFIX)
