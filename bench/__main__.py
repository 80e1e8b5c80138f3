"""`make bench`: the screen scenarios on a real stack, printed as one comparison table.

Bounded: each scenario runs for ``--seconds`` against loopback only. Scenarios:

* the cached web product page and home screen (the BFF's hot path),
* the same with 20 ms of core latency, which the cache hides,
* the same product page with the cache cold for every request (unique ids),
* health, as the floor the framework costs.

Other measurements have their own scripts: ``python -m bench.server_choice`` (ASGI server),
``python -m bench.transport_bench`` (httpx transport), ``python -m bench.telemetry_overhead``.
"""

from __future__ import annotations

import argparse
import shutil
import sys

from bench.stack import running_stack, web_session_cookie, wrk


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed for the benchmarks: apt-get install wrk", file=sys.stderr)
        return 1
    rows: list[tuple[str, dict[str, float]]] = []
    for latency in (0, 20):
        with running_stack(stubs_latency_ms=latency) as stack:
            cookie = web_session_cookie(stack.web_url)
            headers = {"Cookie": f"bff={cookie}", "X-CSRF": "1"}
            if latency == 0:
                rows.append(
                    ("GET /health/live", wrk(f"{stack.web_url}/health/live", seconds=args.seconds))
                )
            for path in ("/api/products/7", "/api/home"):
                url = f"{stack.web_url}{path}"
                wrk(url, seconds=1, headers=headers)  # warm the cache
                rows.append(
                    (
                        f"GET {path} (core +{latency} ms)",
                        wrk(url, seconds=args.seconds, headers=headers),
                    )
                )
    print()
    print(f"{'scenario':40} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, result in rows:
        print(
            f"{name:40} {result['rps']:8.0f} {result['p50_ms']:8.1f} {result['p99_ms']:8.1f} "
            f"{result['errors']:8.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
