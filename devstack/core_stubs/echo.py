"""The echo upstream: a stand-in for any API behind a gateway's remote API route.

``<any method> /echo/<anything>?<query>`` answers JSON with what arrived: the method, the path,
the query, the body's length (counted while it streams in, never held) and the headers, with a
token (``Bearer`` or ``DPoP``) and a DPoP proof shown only as their lengths. What the test cannot
see in that answer, the stubs keep: ``GET /_echo`` gives the number of calls and the scheme and
SHA-256 of each token received (so a test can tell whose token it was without the token ever
being shown), ``DELETE /_echo`` forgets.

Query parameters that shape the answer: ``download=N`` answers N bytes (streamed, zeros)
instead of JSON; ``status=N`` answers with that status. Every answer also sets a cookie, which
a gateway must never pass on.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, route
from litestar.enums import HttpMethod
from litestar.response import Stream

from devstack.core_stubs.models import EchoStats
from devstack.core_stubs.state import Stubs

DOWNLOAD_CHUNK = b"\0" * 65536
ECHO_COOKIE = "echo-session=upstream-cookie; Path=/"
MAX_DOWNLOAD_BYTES = 1 << 30


class EchoAnswer(msgspec.Struct, rename="camel"):
    method: str
    path: str
    query: str
    body_length: int
    headers: dict[str, str]


def shown_headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Every header received, repeated ones joined; a token or a proof as its length only."""
    shown: dict[str, str] = {}
    for raw_name, raw_value in request.scope["headers"]:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if name == "authorization":
            scheme, _, credentials = value.partition(" ")
            value = f"{scheme} <{len(credentials)} characters>"
        elif name == "dpop":
            value = f"<{len(value)} characters>"
        shown[name] = f"{shown[name]}, {value}" if name in shown else value
    return shown


@route(
    ["/echo", "/echo/{rest:path}"],
    http_method=[
        HttpMethod.GET,
        HttpMethod.POST,
        HttpMethod.PUT,
        HttpMethod.PATCH,
        HttpMethod.DELETE,
    ],
    request_max_body_size=None,
)
async def echo(request: Request[Any, Any, Any], stubs: Stubs) -> Response[Any]:
    length = 0
    async for chunk in request.stream():
        length += len(chunk)
    authorization = request.headers.get("authorization", "")
    stubs.echo.calls += 1
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() in ("bearer", "dpop") and token:
        stubs.echo.token_digests.append(hashlib.sha256(token.encode()).hexdigest())
        stubs.echo.token_schemes.append(scheme)
    status = int(request.query_params.get("status", "200"))
    download = min(int(request.query_params.get("download", "0")), MAX_DOWNLOAD_BYTES)
    headers = {"set-cookie": ECHO_COOKIE}
    if download:
        return Stream(
            _zeros(download),
            status_code=status,
            media_type="application/octet-stream",
            headers={**headers, "content-length": str(download)},
        )
    answer = EchoAnswer(
        method=request.method,
        path=request.scope["raw_path"].decode("latin-1"),
        query=request.scope["query_string"].decode("latin-1"),
        body_length=length,
        headers=shown_headers(request),
    )
    return Response(answer, status_code=status, headers=headers)


async def _zeros(size: int) -> AsyncIterator[bytes]:
    while size > 0:
        chunk = DOWNLOAD_CHUNK[: min(size, len(DOWNLOAD_CHUNK))]
        size -= len(chunk)
        yield chunk


@get("/_echo")
async def echo_stats(stubs: Stubs) -> EchoStats:
    return stubs.echo


@delete("/_echo")
async def clear_echo(stubs: Stubs) -> None:
    stubs.echo = EchoStats()


ECHO_ROUTES = [echo, echo_stats, clear_echo]
