"""Which httpx transport should the core clients use? Measure it on loopback.

Starts a tiny JSON server (uvicorn, its own process, 127.0.0.1 only) that answers every GET with
one catalog product, then for each transport keeps 64 calls in flight for a few seconds and
reports throughput and latency (``--server stubs`` serves the devstack core stubs instead)::

    python bench/transport_bench.py [--seconds 5] [--concurrency 64] [--rounds 3] [--server stubs]

Two ways of calling are measured for each transport: ``raw`` (``AsyncClient.get`` and read) and
``client`` (``CatalogClient.get_product``: headers, deadline, breaker, msgspec decoding), so the
numbers show both the transport and what the client layer adds. Every loop is bounded by time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
from httpx_aiohttp import AiohttpTransport

from core_clients import (
    CallContext,
    CatalogClient,
    CoreHttpClient,
    ServicePolicy,
    build_http_client,
)

PRODUCT = msgspec.json.encode(
    {
        "id": "7",
        "title": "Product 7",
        "description": "A sturdy thing for everyday use. " * 4,
        "price": {"amountMinor": 1999, "currency": "EUR"},
        "images": [
            {"url": f"https://img.test/7-{i}.jpg", "width": 640, "height": 480} for i in (1, 2)
        ],
        "category": "tools",
        "rating": {"average": 4.5, "count": 12},
        "attributes": {"colour": "red", "weightGrams": 450},
    }
)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Minimal ASGI app: the same product for any HTTP request."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": PRODUCT})


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@dataclass
class Result:
    name: str
    calls: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    def row(self) -> str:
        lat = sorted(self.latencies_ms) or [0.0]
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        rate = self.calls / self.seconds
        return f"| {self.name:<30} | {rate:>8,.0f} | {p50:>7.1f} | {p99:>7.1f} | {self.errors:>6} |"


async def run_load(
    name: str, call: Callable[[], Awaitable[object]], seconds: float, concurrency: int
) -> Result:
    latencies: list[float] = []
    errors = 0

    async def worker(stop_at: float, record: bool) -> None:
        nonlocal errors
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                await call()
            except Exception:
                errors += 1
                continue
            if record:
                latencies.append((time.perf_counter() - started) * 1000)

    warm_until = time.monotonic() + min(1.0, seconds / 2)
    await asyncio.gather(*(worker(warm_until, False) for _ in range(concurrency)))
    errors = 0
    started = time.monotonic()
    await asyncio.gather(*(worker(started + seconds, True) for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    return Result(name, len(latencies), errors, elapsed, latencies)


def _raw_get(http: httpx.AsyncClient) -> Callable[[], Awaitable[object]]:
    async def call() -> object:
        response = await http.get("/v1/products/7", headers={"Authorization": "Bearer bench"})
        response.raise_for_status()
        return response.content

    return call


def _get_product(
    http: CoreHttpClient, policy: ServicePolicy, ctx: CallContext
) -> Callable[[], Awaitable[object]]:
    catalog = CatalogClient(http, policy)

    async def call() -> object:
        return await catalog.get_product("7", ctx=ctx)

    return call


def transports(policy: ServicePolicy) -> dict[str, Callable[[], httpx.AsyncBaseTransport]]:
    wide = httpx.Limits(
        max_connections=policy.max_connections, max_keepalive_connections=policy.max_connections
    )
    return {
        "httpx default": httpx.AsyncHTTPTransport,
        "httpx, keep-alive 100": lambda: httpx.AsyncHTTPTransport(limits=wide),
        "httpx-aiohttp": lambda: AiohttpTransport(limits=wide),
    }


async def bench(base_url: str, seconds: float, concurrency: int, rounds: int) -> list[Result]:
    """Every variant once per round, rounds interleaved so a noisy neighbour hits all alike."""
    policy = ServicePolicy()
    ctx = CallContext(access_token="bench-token", request_id="bench-0001")  # noqa: S106 - a dummy
    runs: dict[str, list[Result]] = {}
    for _ in range(rounds):
        for label, make in transports(policy).items():
            for path in ("raw", "client"):
                # A fresh client per run: each starts from an empty pool, warmed up alike.
                async with build_http_client(
                    f"{base_url}/catalog", policy, transport=make()
                ) as http:
                    call = _raw_get(http) if path == "raw" else _get_product(http, policy, ctx)
                    name = f"{label} / {path}"
                    result = await run_load(name, call, seconds, concurrency)
                    runs.setdefault(name, []).append(result)
    # Report each variant's median round by throughput.
    return [sorted(rs, key=lambda r: r.calls / r.seconds)[len(rs) // 2] for rs in runs.values()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("bench server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("bench server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--server",
        choices=("tiny", "stubs"),
        default="tiny",
        help="tiny: a bare ASGI app, so the client is what is measured; stubs: devstack core stubs",
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    port = free_port()
    command = {
        "tiny": [sys.executable, __file__, "--serve", str(port)],
        "stubs": [sys.executable, "-m", "devstack.cli", "stubs", "--port", str(port)],
    }[args.server]
    server = subprocess.Popen(command)
    try:
        wait_for_port(port, server)
        base_url = f"http://127.0.0.1:{port}"
        results = asyncio.run(bench(base_url, args.seconds, args.concurrency, args.rounds))
    finally:
        server.terminate()
        server.wait(10)
    print(
        f"\n{args.concurrency} concurrent calls, {args.seconds:g} s per run, median of "
        f"{args.rounds} rounds, {args.server} server, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, httpx {httpx.__version__}\n"
    )
    print("| transport / path               |    req/s | p50 ms  | p99 ms  | errors |")
    print("| ------------------------------ | -------: | ------: | ------: | -----: |")
    for result in results:
        print(result.row())


if __name__ == "__main__":
    main()
