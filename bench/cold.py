"""The cold-cache scenarios, which wrk cannot drive: a product screen whose cache is cold on
every request, timed one request at a time beside the core call it wraps, and a stampede of
concurrent requests for one cold product on two gateway instances.

Both loops are bounded by a request count and a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

TIMEOUT_S = 10.0
DIRECT_HEADERS = {"Authorization": "Bearer bench-direct-call"}  # the stubs want any bearer
PRODUCT_LOAD = "catalog GET /v1/products/{id}"
"""How the stubs' ``/_stats`` name a product fetch, the call single-flight must not repeat."""


class ScenarioError(RuntimeError):
    """A scenario could not be measured as designed (the run is not valid)."""


@dataclass(frozen=True)
class Latencies:
    """One loop's answers: latency percentiles (nearest rank) and the throughput they make,
    requests over the time spent waiting for them (one at a time: the inverse of the mean)."""

    requests: int
    failed: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @classmethod
    def of(cls, samples_ms: Sequence[float], failed: int, elapsed_s: float) -> Latencies:
        ordered = sorted(samples_ms)
        if not ordered or elapsed_s <= 0:
            raise ScenarioError("the loop made no request")
        return cls(
            requests=len(ordered),
            failed=failed,
            rps=len(ordered) / elapsed_s,
            p50_ms=percentile(ordered, 50),
            p95_ms=percentile(ordered, 95),
            p99_ms=percentile(ordered, 99),
        )


def percentile(ordered: Sequence[float], rank: float) -> float:
    index = max(0, min(len(ordered) - 1, round(rank / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass(frozen=True)
class ColdFanOut:
    gateway: Latencies
    direct: Latencies
    overhead_p50_ms: float
    overhead_p95_ms: float


def cold_fan_out(
    gateway_url: str,
    stubs_url: str,
    headers: Mapping[str, str],
    product_ids: Sequence[str],
    *,
    warm_ids: Sequence[str],
    deadline_s: float,
) -> ColdFanOut:
    """For each id, never asked before: the gateway's product screen, then the stubs' product
    endpoint, by the same client, so both see the same client and the same moment of the run.

    ``warm_ids`` are asked first, so the user's account and recommendations are cached and the
    connections open: what stays cold is the product and its inventory, fetched in parallel.
    """
    timings: dict[str, list[float]] = {"gateway": [], "direct": []}
    failed = {"gateway": 0, "direct": 0}
    with httpx.Client(timeout=TIMEOUT_S) as client:
        for product_id in warm_ids:
            client.get(f"{gateway_url}/api/products/{product_id}", headers=headers)
            client.get(f"{stubs_url}/catalog/v1/products/{product_id}", headers=DIRECT_HEADERS)
        stop_at = time.monotonic() + deadline_s
        for product_id in product_ids:
            if time.monotonic() > stop_at:
                break
            for side, url, side_headers in (
                ("gateway", f"{gateway_url}/api/products/{product_id}", headers),
                ("direct", f"{stubs_url}/catalog/v1/products/{product_id}", DIRECT_HEADERS),
            ):
                before = time.perf_counter()
                status = client.get(url, headers=side_headers).status_code
                timings[side].append((time.perf_counter() - before) * 1000)
                failed[side] += not 200 <= status < 300
    gateway, direct = (
        Latencies.of(timings[side], failed[side], sum(timings[side]) / 1000)
        for side in ("gateway", "direct")
    )
    return ColdFanOut(
        gateway=gateway,
        direct=direct,
        overhead_p50_ms=gateway.p50_ms - direct.p50_ms,
        overhead_p95_ms=gateway.p95_ms - direct.p95_ms,
    )


@dataclass(frozen=True)
class Stampede:
    answers: Latencies
    product_loads: int
    catalog_calls: dict[str, int] = field(default_factory=dict)


def stampede(
    gateway_urls: Sequence[str],
    path: str,
    headers: Mapping[str, str],
    stubs_url: str,
    *,
    requests: int,
    deadline_s: float,
) -> Stampede:
    """``requests`` at once for one cold screen, spread evenly over the gateway instances; the
    stubs' call counters (zeroed first) say how many product fetches got through."""
    httpx.delete(f"{stubs_url}/_stats", timeout=TIMEOUT_S).raise_for_status()
    started = time.perf_counter()
    statuses, timings = asyncio.run(
        asyncio.wait_for(_burst(gateway_urls, path, headers, requests), deadline_s)
    )
    elapsed = time.perf_counter() - started
    stats = httpx.get(f"{stubs_url}/_stats", timeout=TIMEOUT_S).json()
    calls: dict[str, int] = stats["calls"]
    failed = sum(1 for status in statuses if not 200 <= status < 300)
    return Stampede(
        answers=Latencies.of(timings, failed, elapsed),
        product_loads=calls.get(PRODUCT_LOAD, 0),
        catalog_calls={call: n for call, n in sorted(calls.items()) if call.startswith("catalog ")},
    )


async def _burst(
    gateway_urls: Sequence[str], path: str, headers: Mapping[str, str], requests: int
) -> tuple[list[int], list[float]]:
    """Every connection is opened first; only then is every request written, in one pass, so
    they reach the gateways as close together as one process can send them."""
    targets = [gateway_urls[n % len(gateway_urls)] for n in range(requests)]
    connections = await asyncio.gather(*(_connect(url) for url in targets))
    payloads = [_request_bytes(url, path, headers) for url in targets]
    sent_at = []
    for (_, writer), payload in zip(connections, payloads, strict=True):
        writer.write(payload)
        sent_at.append(time.perf_counter())
    answers = await asyncio.gather(*(_read_status(reader) for reader, _ in connections))
    for _, writer in connections:
        writer.close()
    statuses = [status for status, _ in answers]
    timings = [(done - sent) * 1000 for (_, done), sent in zip(answers, sent_at, strict=True)]
    return statuses, timings


async def _connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    return await asyncio.open_connection(parts.hostname, parts.port)


def _request_bytes(url: str, path: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {urlsplit(url).netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_status(reader: asyncio.StreamReader) -> tuple[int, float]:
    """The status of a ``Connection: close`` answer, read to its end, and when it ended."""
    status_line = await reader.readline()
    await reader.read()
    parts = status_line.split()
    status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0
    return status, time.perf_counter()
