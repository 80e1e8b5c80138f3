"""The driver that ``python -m bench.instructions`` runs under callgrind: one app built in this
process and called over ASGI by this module's own ``receive`` and ``send``, with no server and
no socket in between, so what is counted is the app's own work for a request (Litestar, the
middleware, the gateway's code, its Redis round trips as redis-py makes them) and nothing of a
load generator's.

    python -m bench.inprocess DRIVE_FILE READY_FD GO_FD

DRIVE_FILE holds a ``Drive`` as JSON. The app is built with the environment this process was
started with (a bench gateway's: ``BenchStack.gateway_env``) and its lifespan is run until the
startup completes; then the warm-up requests (caches filled, code paths taken once), a line
written to READY_FD, and a blocking read of GO_FD while the parent switches callgrind's
instrumentation on: blocked in a system call, this process runs no instruction meanwhile. Then
the measured requests, one at a time, and ``os._exit`` so that no teardown is counted. Exit
status 0 when every answer had the expected status, 1 otherwise (the reason on stderr). The
access log lines go to stdout, which the parent points at /dev/null.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import os
import sys
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import uvloop

GO = b"g"
STARTUP_TIMEOUT_S = 300.0
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Coroutine[Any, Any, None]]
REQUEST: Message = {"type": "http.request", "body": b"", "more_body": False}


@dataclass(frozen=True)
class Drive:
    """What one child does: which app, which request, how many times."""

    factory: str
    """``module:function`` returning the ASGI app, as ``bff serve`` and ``bench.serve`` name it."""
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    expect: int = 200
    revalidate: bool = False
    """Send ``If-None-Match`` with the ``ETag`` of a first answer (which must be a 200)."""
    warmup: int = 50
    requests: int = 300

    def dumps(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def loads(cls, text: str) -> Drive:
        return cls(**json.loads(text))


class DriveError(RuntimeError):
    """The app did not start, or did not answer as the drive expects."""


class Client:
    """GET ``path`` with ``headers``, as an HTTP/1.1 server would hand it to the app."""

    def __init__(self, app: App, path: str, headers: Mapping[str, str]) -> None:
        self._app = app
        raw = [(b"host", b"127.0.0.1")]
        raw += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        self._scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }
        self.start: Message = {}
        """The last ``http.response.start``: its status and headers."""

    async def _receive(self) -> Message:
        return REQUEST

    async def _send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message

    async def get(self) -> int:
        # A scope of its own per request: the app writes into it (route, state, ...).
        await self._app(dict(self._scope, state={}), self._receive, self._send)
        return int(self.start["status"])

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        for key, value in self.start.get("headers", ()):
            if bytes(key).lower() == wanted:
                return bytes(value).decode()
        return None


async def start_lifespan(app: App) -> asyncio.Task[None]:
    """Runs the app's lifespan until its startup completes; the task is kept by the caller
    (the app's resources live while it waits for a shutdown that never comes)."""
    queue: asyncio.Queue[Message] = asyncio.Queue()
    queue.put_nowait({"type": "lifespan.startup"})
    answer: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

    async def send(message: Message) -> None:
        if str(message["type"]).startswith("lifespan.startup.") and not answer.done():
            answer.set_result(message)

    scope: Message = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, queue.get, send))
    either: set[asyncio.Future[Any]] = {answer, task}
    await asyncio.wait(either, timeout=STARTUP_TIMEOUT_S, return_when="FIRST_COMPLETED")
    if not answer.done():
        raise DriveError(f"no lifespan startup answer: {task.exception() if task.done() else ''}")
    message = answer.result()
    if message["type"] != "lifespan.startup.complete":
        raise DriveError(f"lifespan startup failed: {message.get('message', '')}")
    return task


def load_app(factory: str) -> App:
    module, _, function = factory.partition(":")
    app: App = getattr(importlib.import_module(module), function)()
    return app


async def expect(client: Client, status: int, step: str) -> None:
    answered = await client.get()
    if answered != status:
        raise DriveError(f"{step}: HTTP {answered}, expected {status}")


async def drive(spec: Drive, ready_fd: int, go_fd: int) -> NoReturn:
    app = load_app(spec.factory)
    _lifespan = await start_lifespan(app)  # held: the loop keeps only a weak reference
    client = Client(app, spec.path, spec.headers)
    if spec.revalidate:
        await expect(client, 200, "first answer")
        tag = client.header("etag")
        if tag is None:
            raise DriveError("the first answer has no ETag to revalidate")
        client = Client(app, spec.path, {**spec.headers, "If-None-Match": tag})
    for _ in range(spec.warmup):
        await expect(client, spec.expect, "warm-up")
    os.write(ready_fd, b"ready\n")
    if os.read(go_fd, 1) != GO:
        raise DriveError("the parent went away before the measurement")
    statuses = [await client.get() for _ in range(spec.requests)]
    wrong = Counter(status for status in statuses if status != spec.expect)
    if wrong:
        leave(1, f"answers not {spec.expect}: {dict(wrong)} of {spec.requests}")
    leave(0)


def leave(code: int, reason: str = "") -> NoReturn:
    """``os._exit``: no interpreter teardown, no lifespan shutdown, nothing more counted."""
    if reason:
        sys.stderr.write(f"bench.inprocess: {reason}\n")
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess")
    parser.add_argument("drive_file", type=Path)
    parser.add_argument("ready_fd", type=int)
    parser.add_argument("go_fd", type=int)
    args = parser.parse_args(argv)
    try:
        uvloop.run(drive(Drive.loads(args.drive_file.read_text()), args.ready_fd, args.go_fd))
    except Exception:  # whatever failed, the parent reads why in this child's log
        leave(1, traceback.format_exc())
    leave(1, "the drive returned")  # it cannot: ``drive`` leaves


if __name__ == "__main__":
    main()
