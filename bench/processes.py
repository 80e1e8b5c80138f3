"""Child processes of a benchmark run: started in their own process group on a free loopback
port, waited for until they answer, and always stopped, whatever happens in between.

Each child writes its output to a log file of its own, so a child that dies at start-up says why
(the tail of its log is in the error) without filling the benchmark's table with noise.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
"""Children run from the repository's root, where ``bench`` and ``devstack`` import from."""
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
LOG_TAIL_CHARS = 2000


class StartError(RuntimeError):
    """A child did not come up; the message names it and quotes the end of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(url: str) -> Callable[[], bool]:
    """Readiness by an HTTP 200, the check every web child of the run answers."""

    def ready() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    return ready


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return ""

    def stop(self) -> None:
        stop_all([self])

    def send(self, sig: signal.Signals) -> None:
        # The child leads its own group: granian's workers and the like go with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)


def spawn(name: str, command: Sequence[str], log_dir: Path, env: Mapping[str, str]) -> Child:
    """Starts ``command`` in the repository's root with exactly ``env`` as its environment."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Child(name, process, log_path)


def wait_until_ready(children: Sequence[tuple[Child, Callable[[], bool]]]) -> None:
    """Waits for all at once, so children started together come up in parallel."""
    waiting = list(children)
    deadline = time.monotonic() + START_TIMEOUT_S
    while waiting:
        for child, ready in list(waiting):
            if child.process.poll() is not None:
                raise StartError(
                    f"{child.name} exited during start-up (code {child.process.returncode}); "
                    f"log {child.log_path}:\n{child.log_tail()}"
                )
            if ready():
                waiting.remove((child, ready))
        if waiting and time.monotonic() > deadline:
            names = ", ".join(child.name for child, _ in waiting)
            raise StartError(f"not ready after {START_TIMEOUT_S:.0f} s: {names}")
        if waiting:
            time.sleep(0.1)


def stop_all(children: Sequence[Child]) -> None:
    """SIGTERM to every child first, so they drain in parallel; SIGKILL to any still running
    after ``STOP_TIMEOUT_S``."""
    running = [child for child in children if child.process.poll() is None]
    for child in running:
        child.send(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in running:
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.send(signal.SIGKILL)
            child.process.wait(5)
