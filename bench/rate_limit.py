"""The per-session API rate limit's cost on the hot path (``api_rate_limit``).

The cached product screen on two web gateways that differ only in ``BFF_RATE_LIMIT_API``: on
(at a rate no run reaches, so every request is counted and none refused) and ``off``. They are
measured off, on, on, off, and Redis's count of script calls (``EVALSHA``) is read around each
run: the difference per request is the round trips the limiter adds to every screen call (one
is the design: the sliding-window script does its reads and writes inside Redis). Redis counts
the commands a script runs as commands too, so counting every command would count those.
``cost`` is the share of throughput the limiter takes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis

from bench import wrk

if TYPE_CHECKING:
    from bench.scenarios import Run

PRODUCT_SCREEN = "/api/products/7"
SIDES = ("off", "on")


def api_rate_limit(run: Run) -> dict[str, Any]:
    headers = run.web_headers("web_api_limit_off")  # one session, in the shared Redis
    urls = {side: f"{run.stack.url(f'web_api_limit_{side}')}{PRODUCT_SCREEN}" for side in SIDES}
    for url in urls.values():
        run.fetch(url, headers)
        wrk.run(url, seconds=run.plan.warmup_s, headers=headers)
    client = redis.Redis.from_url(run.stack.redis_url)
    try:
        sides = wrk.alternating(
            urls, seconds=run.plan.seconds, headers=headers, count=lambda: script_calls(client)
        )
    finally:
        client.close()
    off, on = sides["off"].load, sides["on"].load
    per_request = {
        side: sides[side].counted / sides[side].load.requests if sides[side].load.requests else None
        for side in SIDES
    }
    return {
        "off": off,
        "on": on,
        "cost": 1 - on.rps / off.rps if off.rps else None,
        "redis_scripts_per_request": per_request,
    }


def script_calls(client: redis.Redis) -> int:
    """The Lua script calls Redis has served since it started (``INFO commandstats``)."""
    stats: dict[str, Any] = client.info("commandstats")
    return sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval")
    )
