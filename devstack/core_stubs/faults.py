"""The chaos modes: faults answered straight at the ASGI level, below Litestar's handlers.

``error`` answers the chosen status, ``timeout`` hangs until the client leaves, ``reset`` drops
the connection mid-response and ``garbage`` answers 200 with a body outside the contract.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from http import HTTPStatus

import msgspec
from litestar.types import Receive, Send

from devstack.core_stubs.models import ChaosSpec, ErrorBody

TIMEOUT_HANG_SECONDS = 300.0

# Set by a deliberate reset, read by the log filter below, so an injected connection drop does not
# fill the server log with "ASGI callable returned without completing response".
_deliberate_reset: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "deliberate_reset", default=False
)


class QuietDeliberateResets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _deliberate_reset.get()


async def send_json(send: Send, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def error_json(status: int, detail: str) -> bytes:
    return msgspec.json.encode(ErrorBody(status, HTTPStatus(status).phrase, detail))


async def _hang_until_disconnect(receive: Receive) -> None:
    """Uvicorn does not cancel a request when its client leaves; waiting on receive notices."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def inject_fault(spec: ChaosSpec, receive: Receive, send: Send, rng: random.Random) -> None:
    if spec.mode == "error":
        await send_json(send, spec.status, error_json(spec.status, "injected failure"))
    elif spec.mode == "timeout":
        try:
            await asyncio.wait_for(_hang_until_disconnect(receive), TIMEOUT_HANG_SECONDS)
        except TimeoutError:
            await send_json(send, 504, error_json(504, "injected timeout ran out"))
    elif spec.mode == "reset":
        # Promise a body, send part of it, and return: the server then has to close the
        # connection, and the client sees it drop mid-response.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"items": [', "more_body": True})
        _deliberate_reset.set(True)
    else:
        garbage = rng.choice((b'{"unexpected": [1, 2]}', b'{"items": [{"id": "1", "ti'))
        await send_json(send, 200, garbage)
