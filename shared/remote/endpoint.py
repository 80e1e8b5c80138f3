"""What a gateway's remote API route does once its entry checks passed: find the API, the path
to forward, the token; forward; hand back the streamed answer.

The gateways' route modules (``bff_web/remote.py``, ``bff_mobile/remote.py``) only declare the
routes with their guards, policy and session dependency and call :func:`forward_request`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final
from urllib.parse import quote, unquote

from litestar import Request
from litestar.background_tasks import BackgroundTask
from litestar.exceptions import HTTPException, InternalServerException
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse

from shared.identity.records import SessionRecord
from shared.identity.wiring import IDENTITY
from shared.platform.deadline import Deadline, deadline_scope
from shared.platform.errors import BadRequest
from shared.platform.plugin import provide_request_id
from shared.remote.authorization import upstream_authorization
from shared.remote.errors import RemoteApiCallerGone
from shared.remote.forwarding import OutgoingCall, UpstreamAnswer
from shared.remote.wiring import REMOTE

_DOT_SEGMENTS: Final = frozenset({".", ".."})
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~"
"""What RFC 3986 allows unencoded in a path (``pchar`` and ``/``)."""
CALLER_GONE_STATUS: Final = 499
"""What the access log shows for a caller that left mid-upload (nginx's "client closed
request"): not a 500, since nothing failed on this side, and nobody reads the answer."""
_DISCONNECTED: Final = "client disconnected prematurely"
"""The detail of the ``InternalServerException`` Litestar's ``Request.stream()`` raises on an
``http.disconnect`` (litestar/connection/request.py); a test over real HTTP pins it."""


async def forward_request(
    request: Request[Any, Any, Any], session: SessionRecord, api_name: str
) -> ASGIResponse:
    """The upstream's answer to this request, streamed; the API's timeout (and any tighter
    request deadline) covers the token refresh and the wait for the answer's start. A caller
    that goes away while its body goes up ends the call quietly (logged once by the forwarding,
    the upstream connection closed, the breaker not charged)."""
    state = request.app.state
    remote = REMOTE.get(state)
    api = remote.apis[api_name]
    scope = request.scope
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    _refuse_announced_excess(headers, api.settings.max_request_bytes)
    with deadline_scope(Deadline.after(api.settings.timeout_s)):
        authorization = await upstream_authorization(
            api.settings, session, IDENTITY.get(state).tokens, remote.client_tokens
        )
        try:
            answer = await api.forward(
                OutgoingCall(
                    method=request.method,
                    path=rest_of_path(scope, api.settings.path),
                    query=scope.get("query_string", b""),
                    headers=headers,
                    body=caller_body(request.stream()) if _has_body(headers) else None,
                    authorization=authorization,
                    request_id=provide_request_id(scope) or None,
                )
            )
        except RemoteApiCallerGone:
            return ASGIResponse(status_code=CALLER_GONE_STATUS)
    return streamed_answer(answer)


def streamed_answer(answer: UpstreamAnswer) -> ASGIStreamingResponse:
    """The upstream's answer as the caller's response; the upstream's is closed once it is sent
    or the caller went away mid-way (Litestar runs the background task after either)."""
    response = ASGIStreamingResponse(
        iterator=answer.body,
        status_code=answer.status,
        background=BackgroundTask(answer.close),
    )
    if "content-type" in response.headers:
        del response.headers["content-type"]  # Litestar's default; the upstream's is the one
    for name, value in answer.headers:  # one by one: a repeated header stays repeated
        response.headers.add(name, value)
    return response


async def caller_body(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The caller's body as Litestar streams it, its disconnect made a ``RemoteApiCallerGone``
    (Litestar raises a 500 ``InternalServerException`` for it, which would log a stack trace)."""
    try:
        async for chunk in stream:
            yield chunk
    except InternalServerException as exc:
        if exc.detail != _DISCONNECTED:
            raise
        raise RemoteApiCallerGone("the caller disconnected while sending its body") from exc


def rest_of_path(scope: Any, prefix: str) -> str:
    """The path after the API's prefix ("" or "/..."), as the caller encoded it when the raw
    path shows the prefix as it is, else encoded again from the decoded path; a 400 for a dot
    segment, which could climb out of the upstream's base path."""
    raw = scope.get("raw_path")
    raw_path = raw.decode("latin-1") if isinstance(raw, bytes) else ""
    if raw_path.startswith(prefix):
        rest = raw_path[len(prefix) :]
    else:  # the caller encoded a character of the prefix itself
        rest = quote(str(scope["path"])[len(prefix) :], safe=_PATH_SAFE)
    if any(segment in _DOT_SEGMENTS for segment in unquote(rest).split("/")):
        raise BadRequest("The path must not contain . or .. segments")
    return rest


def _refuse_announced_excess(headers: list[tuple[str, str]], limit: int) -> None:
    """A body announced longer than the API takes is a 413 before the upstream is contacted
    (one sent in chunks is cut by Litestar's limit as it streams)."""
    for name, value in headers:
        if name.lower() == "content-length" and value.strip().isdigit() and int(value) > limit:
            raise HTTPException(status_code=413, detail="The request body is too large")


def _has_body(headers: list[tuple[str, str]]) -> bool:
    """A body comes when the caller announced one: a non-zero length, or chunks."""
    for name, value in headers:
        lower = name.lower()
        if lower == "transfer-encoding" or (lower == "content-length" and value.strip() != "0"):
            return True
    return False
