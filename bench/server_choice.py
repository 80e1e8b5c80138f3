"""Measure the ASGI server choice for `bff serve`: uvicorn (uvloop + httptools) vs granian.

Each server runs the web gateway in one worker on loopback; wrk (Debian package `wrk`) drives
64 connections for a fixed time against a cheap endpoint and a larger JSON document. Bounded:
3 rounds x 2 endpoints x 2 servers x DURATION seconds.

    uv run python -m bench.server_choice [--duration 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PATHS = ("/health/live", "/schema/openapi.json")


def server_command(server: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [
            str(BIN / "uvicorn"),
            "--factory",
            "bff_web.app:create_app",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    return [
        str(BIN / "granian"),
        "--interface",
        "asgi",
        "--factory",
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "uvloop",
        "--log-level",
        "warning",
        "bff_web.app:create_app",
    ]


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def run_wrk(url: str, duration: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{duration}s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 1
    env = {**os.environ, "BFF_LOG_LEVEL": "warning", "BFF_LOG_FORMAT": "json"}
    results: dict[tuple[str, str], list[float]] = {}
    for round_number in range(args.rounds):
        for server in ("uvicorn", "granian"):
            port = 18700 + round_number
            process = subprocess.Popen(
                server_command(server, port),
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                wait_ready(f"http://127.0.0.1:{port}/health/live")
                for path in PATHS:
                    rps = run_wrk(f"http://127.0.0.1:{port}{path}", args.duration)
                    results.setdefault((server, path), []).append(rps)
            finally:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(15)
    print(f"{'server':10} {'path':24} {'req/s (median of rounds)':>26}  rounds")
    for (server, path), values in sorted(results.items()):
        median = sorted(values)[len(values) // 2]
        print(f"{server:10} {path:24} {median:26.0f}  {', '.join(f'{v:.0f}' for v in values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
