"""Measure the ASGI server choice for `bff serve`: uvicorn (uvloop + httptools) vs granian.

Each server runs the web gateway in one worker on a free loopback port; wrk (Debian package
`wrk`) drives 64 connections from 2 threads for a fixed time against a cheap endpoint and a
larger JSON document. Bounded: 3 rounds x 2 endpoints x 2 servers x DURATION seconds.

    uv run python -m bench.server_choice [--duration 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench import wrk
from bench.processes import free_port, http_ok, spawn, wait_until_ready

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
    with tempfile.TemporaryDirectory(prefix="bff-server-choice-") as logs:
        for _ in range(args.rounds):
            for server in ("uvicorn", "granian"):
                port = free_port()
                child = spawn(server, server_command(server, port), Path(logs), env)
                try:
                    wait_until_ready([(child, http_ok(f"http://127.0.0.1:{port}/health/live"))])
                    for path in PATHS:
                        url = f"http://127.0.0.1:{port}{path}"
                        load = wrk.run(url, seconds=args.duration, connections=64, threads=2)
                        results.setdefault((server, path), []).append(load.rps)
                finally:
                    child.stop()
    print(f"{'server':10} {'path':24} {'req/s (median of rounds)':>26}  rounds")
    for (server, path), values in sorted(results.items()):
        median = statistics.median_high(values)
        print(f"{server:10} {path:24} {median:26.0f}  {', '.join(f'{v:.0f}' for v in values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
