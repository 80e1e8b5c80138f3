"""`make soak`: both gateways under mixed traffic for a long while, chaos switched on and off.

    python -m bench.soak [--minutes 10] [--users 12] [--chaos-every 30]

Each simulated user loops through a life: log in (web or app), look at screens, place an
order, refresh (app), and leave by logging out, by a back-channel logout from the IdP, or by
walking away (its session then expires). Every `--chaos-every` seconds one core service is
switched to a random stub chaos mode, then back. The report (stdout, JSON in `--out`):

* requests and errors per endpoint, p50/p99; an error is a 500 anywhere, or a 5xx outside a
  chaos window (plus the fault's tail: the breaker's open period and one load's attempts),
  and the run fails if there is one;
* RSS of each gateway's process group after warm-up and at the end (growth must stay < 10 %);
* Redis keys and memory before the run, at its end, and once the sessions have expired.

The gateways are `bff serve` processes with short session lives (``bench.stack.SOAK_ENV``), on
a private Redis, the dev IdP and the core stubs, as `make bench` runs them.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.logins import AppSession, web_headers
from bench.stack import SOAK_ENV, BenchStack
from shared.platform.settings import CoreServiceSettings

CHAOS_MODES = ("error", "timeout", "reset", "garbage")
SERVICES = ("accounts", "catalog", "orders", "recommendations")
_CORE = CoreServiceSettings(name="any", url="http://any")
FAULT_TAIL_S = _CORE.breaker_open_s + _CORE.timeout_s * _CORE.max_attempts
"""How long an injected fault still shows after it is switched off: a breaker it opened stays
open for its period, and a load started under it (a request arriving later joins it, single
flight) may run all its attempts, each up to the service's timeout. The defaults: 5 + 3 x 3 s."""
RSS_GROWTH_LIMIT = 0.10
TIMEOUT_S = 15.0
RETRIED_LOGIN = "login answered 503, retried"
"""Counted apart from errors: the IdP (the dev one is a single-threaded server) or Redis was
briefly away, the gateway said so with Retry-After, and the user logged in again."""


@dataclass
class Sample:
    endpoint: str
    status: int
    seconds: float
    at: float


@dataclass
class Soak:
    web: str
    mobile: str
    idp: str
    stubs: str
    samples: list[Sample] = field(default_factory=list)
    chaos_windows: list[tuple[float, float]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, endpoint: str, send: Callable[[], httpx.Response]) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = send()
            status = response.status_code
        except httpx.HTTPError:
            response, status = None, 599  # no answer at all: counted like a 5xx
        with self.lock:
            self.samples.append(Sample(endpoint, status, time.monotonic() - started, started))
        return response

    def since_chaos(self, at: float) -> float | None:
        """Seconds from the end of the last chaos window that began before ``at``."""
        ends = [end for start, end in self.chaos_windows if start <= at]
        return round(at - max(ends), 1) if ends else None

    def in_chaos(self, at: float) -> bool:
        return any(start <= at <= end + FAULT_TAIL_S for start, end in self.chaos_windows)


def web_life(soak: Soak, sub: str, rng: random.Random) -> None:
    headers = web_headers(soak.web, sub)
    with httpx.Client(base_url=soak.web, headers=headers, timeout=TIMEOUT_S) as browser:
        for _ in range(rng.randint(3, 8)):
            soak.call("web GET /api/home", lambda: browser.get("/api/home"))
            product = rng.randint(1, 500)
            soak.call(
                "web GET /api/products/{id}", partial(browser.get, f"/api/products/{product}")
            )
            soak.call("web GET /api/orders", lambda: browser.get("/api/orders"))
        if rng.random() < 0.3:
            order = {"lines": [{"productId": str(rng.randint(1, 500)), "quantity": 1}]}
            key = {"Idempotency-Key": f"soak-{sub}-{rng.random()}"}
            soak.call(
                "web POST /api/orders", lambda: browser.post("/api/orders", json=order, headers=key)
            )
        ending = rng.random()
        if ending < 0.4:
            soak.call("web POST /bff/logout", lambda: browser.post("/bff/logout"))
        elif ending < 0.6:
            token = httpx.post(
                f"{soak.idp}/_dev/logout-token", json={"client_id": "bff-web", "sub": sub}
            ).json()["logout_token"]
            soak.call(
                "web POST /bff/backchannel-logout",
                lambda: httpx.post(
                    f"{soak.web}/bff/backchannel-logout", data={"logout_token": token}
                ),
            )
        # otherwise the user walks away and the session expires


def app_life(soak: Soak, sub: str, rng: random.Random) -> None:
    app = AppSession.log_in(soak.mobile, sub)
    with httpx.Client(base_url=soak.mobile, timeout=TIMEOUT_S) as client:
        for round_ in range(rng.randint(3, 8)):
            soak.call(
                "mobile GET /m/v1/home", lambda: client.get("/m/v1/home", headers=app.headers())
            )
            product = rng.randint(1, 500)
            soak.call(
                "mobile GET /m/v1/products/{id}",
                partial(client.get, f"/m/v1/products/{product}", headers=app.headers()),
            )
            if round_ == 1:
                soak.call("mobile POST /auth/token", lambda: _refresh(app))
        if rng.random() < 0.5:
            soak.call(
                "mobile POST /auth/logout",
                lambda: client.post("/auth/logout", headers=app.headers()),
            )


def _refresh(app: AppSession) -> httpx.Response:
    response = httpx.post(
        f"{app.mobile_url}/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": app.refresh_token},
        timeout=TIMEOUT_S,
    )
    if response.status_code == 200:
        tokens = response.json()
        app.access_token, app.refresh_token = tokens["access_token"], tokens["refresh_token"]
    return response


def user_loop(soak: Soak, number: int) -> None:
    rng = random.Random(number)
    lives = 0
    while not soak.stop.is_set():
        lives += 1
        sub = f"soak-{number}-{lives}"
        life = web_life if number % 2 else app_life
        try:
            life(soak, sub, rng)
        except Exception as exc:  # a failed life is recorded, and the user goes on
            if "HTTP 503" in str(exc):
                # The client's part: a login answered 503 (with Retry-After) is tried again.
                soak.call(RETRIED_LOGIN, lambda: httpx.Response(503))
            else:
                soak.call(f"login ({type(exc).__name__})", lambda: httpx.Response(599))


def chaos_loop(soak: Soak, every_s: float, rng: random.Random) -> None:
    while not soak.stop.wait(every_s):
        service, mode = rng.choice(SERVICES), rng.choice(CHAOS_MODES)
        spec = {"errorRate": 0.5, "status": 503, "mode": mode}
        # Before the switch: a request the stubs fail while the switch's answer is on its way
        # is inside the window.
        started = time.monotonic()
        httpx.put(f"{soak.stubs}/_chaos/{service}", json=spec).raise_for_status()
        soak.stop.wait(every_s / 2)
        httpx.delete(f"{soak.stubs}/_chaos").raise_for_status()
        soak.chaos_windows.append((started, time.monotonic()))


def group_rss_kib(leader: int) -> int:
    """Resident memory of a process group (granian's main process and its workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != leader:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


def redis_usage(url: str) -> dict[str, Any]:
    """Keys and memory, the keys by family (their name up to the second ``:``, ``{...}`` hash
    tags left out), how many have no expiry (state nothing would ever remove), and the longest
    time to live left: when the store is back to its baseline at the latest."""
    client = redis.Redis.from_url(url)
    try:
        names = list(client.scan_iter(count=1000))
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.pttl(name)
        ttls = pipe.execute()
        families: dict[str, int] = defaultdict(int)
        for name in names:
            families[key_family(name.decode(errors="replace"))] += 1
        return {
            "keys": int(client.dbsize()),
            "used_memory": int(client.info("memory")["used_memory"]),
            "families": dict(sorted(families.items())),
            "without_expiry": sum(1 for ttl in ttls if ttl == -1),
            "longest_ttl_s": round(max((ttl for ttl in ttls if ttl > 0), default=0) / 1000),
        }
    finally:
        client.close()


def key_family(name: str) -> str:
    return ":".join(name.split("{", 1)[0].split("/", 1)[0].split(":")[:2]).rstrip(":")


def percentile(values: Sequence[float], rank: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(rank * len(ordered)))] if ordered else 0.0


def summarize(soak: Soak) -> tuple[dict[str, dict[str, float]], list[dict[str, object]]]:
    """The table per endpoint, and every error: what it was and how long after the end of the
    last chaos window it started (negative: before it ended)."""
    by_endpoint: dict[str, list[Sample]] = defaultdict(list)
    for sample in soak.samples:
        by_endpoint[sample.endpoint].append(sample)
    table: dict[str, dict[str, float]] = {}
    errors: list[dict[str, object]] = []
    for endpoint, samples in sorted(by_endpoint.items()):
        failed = [
            s
            for s in samples
            if endpoint != RETRIED_LOGIN  # the client's retry after the IdP's 503, counted apart
            and (s.status == 500 or (s.status >= 500 and not soak.in_chaos(s.at)))
        ]
        errors.extend(
            {
                "endpoint": endpoint,
                "status": s.status,
                "seconds": round(s.seconds, 2),
                "after_chaos_s": soak.since_chaos(s.at),
            }
            for s in failed
        )
        seconds = [s.seconds for s in samples]
        table[endpoint] = {
            "requests": len(samples),
            "errors": len(failed),
            "5xx_in_chaos": 0
            if endpoint == RETRIED_LOGIN
            else sum(1 for s in samples if s.status >= 500) - len(failed),
            "p50_ms": round(statistics.median(seconds) * 1000, 1),
            "p99_ms": round(percentile(seconds, 0.99) * 1000, 1),
        }
    return table, errors


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--chaos-every", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=None, help="write the report as JSON here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="bff-soak-"))
    with BenchStack(log_dir) as stack:
        stack.start(["soak_web", "soak_mobile"])
        pids = {name: stack.child(name).process.pid for name in ("soak_web", "soak_mobile")}
        soak = Soak(
            stack.url("soak_web"), stack.url("soak_mobile"), stack.url("idp"), stack.url("stubs")
        )
        redis_before = redis_usage(stack.redis_url)
        threads = [threading.Thread(target=user_loop, args=(soak, n)) for n in range(args.users)]
        threads.append(
            threading.Thread(target=chaos_loop, args=(soak, args.chaos_every, random.Random(7)))
        )
        for thread in threads:
            thread.start()
        duration_s = args.minutes * 60
        soak.stop.wait(min(60.0, duration_s / 5))  # warm-up: caches, pools, allocator
        rss_warm = {name: group_rss_kib(pid) for name, pid in pids.items()}
        soak.stop.wait(max(0.0, duration_s - min(60.0, duration_s / 5)))
        soak.stop.set()
        for thread in threads:
            thread.join(60)
        rss_end = {name: group_rss_kib(pid) for name, pid in pids.items()}
        redis_end = redis_usage(stack.redis_url)
        expire_s = int(SOAK_ENV["BFF_SESSION_ABSOLUTE_TIMEOUT"]) + 5
        time.sleep(expire_s)  # the sessions' own lifetime: nothing to poll for sooner
        redis_after = redis_usage(stack.redis_url)
    table, errors = summarize(soak)
    growth = {
        name: round((rss_end[name] - rss_warm[name]) / max(rss_warm[name], 1), 3) for name in pids
    }
    report = {
        "minutes": args.minutes,
        "users": args.users,
        "requests": len(soak.samples),
        "errors": len(errors),
        "error_details": errors[:50],
        "chaos_windows": len(soak.chaos_windows),
        "endpoints": table,
        "rss_kib_after_warm_up": rss_warm,
        "rss_kib_at_end": rss_end,
        "rss_growth": growth,
        "redis_before": redis_before,
        "redis_at_end": redis_end,
        "redis_after_sessions_expired": redis_after,
        "logs": str(log_dir),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    healthy = (
        not errors
        and all(g < RSS_GROWTH_LIMIT for g in growth.values())
        and redis_after["without_expiry"] == 0
    )
    print(f"soak: {'passed' if healthy else 'FAILED'}", file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
