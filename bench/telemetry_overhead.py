"""What telemetry costs: requests/s of a cached screen with telemetry off, at the default sampling,
and with every request traced.

The web gateway runs under granian, one worker, with the dev IdP and the core stubs (each its own
process, loopback only). A logged-in user's ``GET /api/products/7`` is warmed into the cache, then
wrk drives it with 64 connections. Three configurations, interleaved in every round so drift
hits all of them alike:

    off       OTEL_TRACES_SAMPLER=always_off, OTEL_METRICS_EXPORTER=none, no span exporter
    default   the defaults (parentbased_traceidratio, ratio 0.1; Prometheus metrics) with spans
              exported over OTLP/HTTP to a local sink
    all       OTEL_TRACES_SAMPLER=always_on, the rest as in "default"

The sink is a small HTTP server in this process that accepts OTLP/HTTP and answers 200, so the
exporter does its real work (batching, protobuf encoding, one POST per batch) and nothing is
kept. Bounded: ROUNDS x 3 configurations x (WARMUP + DURATION) seconds, plus start-ups.

    uv run python -m bench.telemetry_overhead [--duration 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from bench.stack import free_port, running_stack, web_session_cookie, wrk

SCREEN = "/api/products/7"
WARMUP_S = 2


class _OtlpSink(BaseHTTPRequestHandler):
    """Accepts any OTLP/HTTP export and answers with an empty (valid) protobuf response."""

    exports = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).exports += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


@contextmanager
def otlp_sink() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _OtlpSink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def configurations(sink_url: str) -> dict[str, dict[str, str]]:
    exported = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink_url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }
    return {
        "off": {
            "OTEL_TRACES_SAMPLER": "always_off",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_TRACES_EXPORTER": "none",
        },
        "default": exported,
        "all": {**exported, "OTEL_TRACES_SAMPLER": "always_on"},
    }


def measure(env: dict[str, str], seconds: int) -> dict[str, float]:
    with running_stack(web_env=env) as stack:
        headers = {"Cookie": f"bff={web_session_cookie(stack.web_url)}", "X-CSRF": "1"}
        url = f"{stack.web_url}{SCREEN}"
        assert httpx.get(url, headers=headers, timeout=10).status_code == 200  # now cached
        wrk(url, seconds=WARMUP_S, headers=headers)
        result = wrk(url, seconds=seconds, headers=headers)
        if result["errors"]:
            raise RuntimeError(f"{result['errors']:.0f} non-2xx answers: the run is not valid")
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 1
    results: dict[str, list[dict[str, float]]] = {}
    with otlp_sink() as sink_url:
        configs = configurations(sink_url)
        for round_number in range(1, args.rounds + 1):
            for name, env in configs.items():
                result = measure(env, args.duration)
                results.setdefault(name, []).append(result)
                print(f"round {round_number} {name:8} {result['rps']:8.0f} req/s", flush=True)
        exports = _OtlpSink.exports
    off = statistics.median(r["rps"] for r in results["off"])
    print(f"\n{'telemetry':10} {'req/s (median)':>15} {'vs off':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        p50 = statistics.median(r["p50_ms"] for r in runs)
        p99 = statistics.median(r["p99_ms"] for r in runs)
        print(f"{name:10} {rps:15.0f} {rps / off - 1:+8.1%} {p50:8.2f} {p99:8.2f}")
    print(f"\nOTLP exports received by the sink: {exports}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
