"""Start the pieces a benchmark needs as real processes on loopback, and log a user in."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import httpx

PYTHON = sys.executable
BENCH_SECRET_KEY = "Bq4Wn8Zr2Tx6Vm0Lp3Hs7Dk1Fg5Jc9Ya"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def process(
    command: list[str], ready_url: str, env: Mapping[str, str] | None = None
) -> Iterator[None]:
    proc = subprocess.Popen(
        command,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[:4]} did not become ready at {ready_url}")
            time.sleep(0.2)
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@dataclass
class Stack:
    idp_url: str
    stubs_url: str
    web_url: str
    mobile_url: str | None = None


def gateway_env(gateway: str, port: int, stack: Stack, extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        "BFF_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "BFF_OIDC_ISSUER": stack.idp_url,
        "BFF_OIDC_CLIENT_ID": f"bff-{gateway}",
        "BFF_SECRET_KEY": BENCH_SECRET_KEY,
        "BFF_LOG_LEVEL": "warning",
        "BFF_LOG_FORMAT": "json",
        "BFF_MOBILE_REDIRECT_URIS": "http://127.0.0.1:8765/cb",
    }
    for service in ("accounts", "catalog", "orders", "recommendations"):
        env[f"BFF_CORE_{service.upper()}_URL"] = f"{stack.stubs_url}/{service}"
    env.update(extra)
    return env


@contextmanager
def running_stack(
    *, stubs_latency_ms: int = 0, web_env: Mapping[str, str] | None = None
) -> Iterator[Stack]:
    """IdP, stubs and the web gateway (granian, one worker), each its own process."""
    idp_port, stubs_port, web_port = free_port(), free_port(), free_port()
    stack = Stack(
        idp_url=f"http://127.0.0.1:{idp_port}",
        stubs_url=f"http://127.0.0.1:{stubs_port}",
        web_url=f"http://127.0.0.1:{web_port}",
    )
    cli = [PYTHON, "-m", "shared.platform.cli"]  # the `bff` command
    with ExitStack() as stack_of_processes:
        stack_of_processes.enter_context(
            process(
                [*cli, "idp", "--port", str(idp_port), "--token-max-age", "3600"],
                f"{stack.idp_url}/.well-known/openid-configuration",
            )
        )
        stack_of_processes.enter_context(
            process(
                [*cli, "stubs", "--port", str(stubs_port), "--latency-ms", str(stubs_latency_ms)],
                f"{stack.stubs_url}/health",
            )
        )
        stack_of_processes.enter_context(
            process(
                [*cli, "serve", "web", "--port", str(web_port), "--workers", "1"],
                f"{stack.web_url}/health/ready",
                gateway_env("web", web_port, stack, web_env or {}),
            )
        )
        yield stack


def web_session_cookie(web_url: str, sub: str = "alice") -> str:
    with httpx.Client(timeout=10) as browser:
        start = browser.get(f"{web_url}/bff/login")
        consent = browser.post(start.headers["location"], data={"sub": sub})
        browser.get(consent.headers["location"])
        return browser.cookies["bff"]


def wrk(
    url: str, *, seconds: int, connections: int = 64, headers: Mapping[str, str] = {}
) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    latencies = {
        pct: _ms(value) for pct, value in re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE)
    }
    return {
        "rps": rps,
        "p50_ms": latencies.get("50", float("nan")),
        "p99_ms": latencies.get("99", float("nan")),
        "errors": float(non_2xx.group(1)) if non_2xx else 0.0,
    }


def _ms(value: str) -> float:
    number = float(re.sub(r"[a-z]+$", "", value))
    unit = re.search(r"[a-z]+$", value).group(0)  # type: ignore[union-attr]
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
