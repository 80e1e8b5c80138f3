"""Clients wired to an in-process ``httpx.MockTransport`` that records what it was sent."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx

from core_clients.base import CoreClient
from core_clients.policy import ServicePolicy
from core_clients.transport import build_http_client

C = TypeVar("C", bound=CoreClient)

Responder = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]

FAST = ServicePolicy(backoff_base=0.001, backoff_cap=0.005)
"""Default policy with millisecond backoff so retry tests stay fast."""


class Recorder:
    """A mock core service: answers with ``responder`` and keeps every request it saw."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[httpx.Request] = []
        self._arrival = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self._arrival.set()
        answer = self.responder(request)
        return await answer if inspect.isawaitable(answer) else answer

    async def arrived(self, count: int) -> None:
        """Wait (bounded) until ``count`` requests have reached the service in all."""
        async with asyncio.timeout(5):
            while self.count < count:
                self._arrival.clear()
                await self._arrival.wait()

    @property
    def count(self) -> int:
        return len(self.requests)


def json_response(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def always(status: int, body: Any = None) -> Responder:
    return lambda _request: httpx.Response(status, json=body if body is not None else {})


def sequence(*responses: httpx.Response | Exception) -> Responder:
    """Answer with each item in turn (raising exceptions), repeating the last one."""
    items = list(responses)

    def respond(_request: httpx.Request) -> httpx.Response:
        item = items.pop(0) if len(items) > 1 else items[0]
        if isinstance(item, Exception):
            raise item
        return item

    return respond


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


@asynccontextmanager
async def client_for(
    client_class: type[C],
    responder: Responder,
    policy: ServicePolicy = FAST,
    **kwargs: Any,
) -> AsyncIterator[tuple[C, Recorder]]:
    recorder = Recorder(responder)
    http = build_http_client(
        f"http://core.test/{client_class.service}", policy, transport=httpx.MockTransport(recorder)
    )
    async with http:
        yield client_class(http, policy, **kwargs), recorder
