"""The scenarios of ``python -m bench``, in the order they run, and what each needs started.

Every wrk scenario is warmed first (the cache filled, connections and code paths hot), then
measured with one wrk thread and 32 connections; a scenario with a target relative to the
ceiling is measured right after a ceiling run of the same length, and compared with that one.

``web_product_many_users`` drives the cached product for ``MANY_USERS`` signed-in users, a
different session per request in turn: with one session (the other scenarios), the requests in
flight at once read the same per-user entries, and the cache's single-flight reads share them,
which a fleet serving many users does not see.

Product 7 is the cached product; the cold scenarios use ids nothing else asks for, so their
cache really is cold (the stubs know ids 1 to 500).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench import cold, rate_limit, wrk
from bench.logins import AppSession, web_headers
from bench.stack import BenchStack

CACHED_PRODUCT = "/api/products/7"
MOBILE_HOME = "/m/v1/home"
MSGPACK = {"Accept": "application/msgpack"}
COLD_WARM_IDS = ("1", "2", "3")
COLD_FIRST_ID = 101  # cold fan-out ids: 101, 102, ... (at most 300 of them)
STAMPEDE_WARM_ID = "4"
STAMPEDE_ID = "500"
NOT_MODIFIED = {304}
TWO_XX = range(200, 300)
MANY_USERS = 64

Record = dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """How long and how much: ``--quick`` and ``--seconds`` change these."""

    seconds: float = 10.0
    warmup_s: float = 2.0
    cold_requests: int = 200
    stampede_requests: int = 500
    loop_deadline_s: float = 60.0


@dataclass
class Run:
    """One run's running stack and what its scenarios share: logged-in users, the ceiling."""

    stack: BenchStack
    plan: Plan
    _web: dict[str, dict[str, str]] = field(default_factory=dict)
    _app: AppSession | None = None
    _many: list[str] = field(default_factory=list)

    def web_headers(self, gateway: str) -> dict[str, str]:
        """A logged-in browser's headers, one login per gateway instance."""
        if gateway not in self._web:
            self._web[gateway] = web_headers(self.stack.url(gateway))
        return self._web[gateway]

    def many_web_cookies(self, count: int) -> list[str]:
        """The session cookies of ``count`` users of the web gateway, logged in once a run."""
        url = self.stack.url("web")
        while len(self._many) < count:
            self._many.append(web_headers(url, sub=f"bench-user-{len(self._many)}")["Cookie"])
        return self._many[:count]

    def app_headers(self) -> dict[str, str]:
        """A fresh app access token (they live five minutes; a scenario is shorter)."""
        if self._app is None:
            self._app = AppSession.log_in(self.stack.url("mobile"))
        else:
            self._app.refresh()
        return self._app.headers()

    def load(
        self, url: str, headers: Mapping[str, str] | None = None, success: Collection[int] = TWO_XX
    ) -> wrk.LoadResult:
        """A warm-up run, then the measured one."""
        wrk.run(url, seconds=self.plan.warmup_s, headers=headers, success=success)
        return wrk.run(url, seconds=self.plan.seconds, headers=headers, success=success)

    def load_beside_ceiling(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        success: Collection[int] = TWO_XX,
        cookies: Sequence[str] | None = None,
    ) -> Record:
        """A warm-up run, then the ceiling and this scenario back to back for the same time.

        Their ratio is the target, and the load of the rest of the machine moves by far more
        than the targets' margins within minutes: two runs seconds apart see the same machine.
        """
        options: dict[str, Any] = {"headers": headers, "success": success, "cookies": cookies}
        wrk.run(url, seconds=self.plan.warmup_s, **options)
        ceiling = wrk.run(f"{self.ceiling_url()}{CACHED_PRODUCT}", seconds=self.plan.seconds)
        measured = wrk.run(url, seconds=self.plan.seconds, **options)
        return {**dataclasses.asdict(measured), "paired_ceiling": ceiling}

    def fetch(self, url: str, headers: Mapping[str, str], expect: int = 200) -> httpx.Response:
        """One request that must succeed before a scenario is worth measuring."""
        response = httpx.get(url, headers=headers, timeout=cold.TIMEOUT_S)
        if response.status_code != expect:
            raise cold.ScenarioError(f"GET {url}: HTTP {response.status_code}, expected {expect}")
        return response

    def ceiling_url(self) -> str:
        """The bare app, serving the bytes the web gateway answers for the cached product."""
        if "ceiling" not in self.stack.urls:
            web = self.stack.url("web")
            body = self.fetch(f"{web}{CACHED_PRODUCT}", self.web_headers("web")).content
            self.stack.start_ceiling(body)
        return self.stack.url("ceiling")


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    needs: tuple[str, ...]
    measure: Callable[[Run], Any]
    """Returns a dataclass (the record's numbers) or a record."""


def ceiling(run: Run) -> wrk.LoadResult:
    return run.load(f"{run.ceiling_url()}{CACHED_PRODUCT}")


def health_live(run: Run) -> Record:
    return run.load_beside_ceiling(f"{run.stack.url('web')}/health/live")


def web_screen(path: str) -> Callable[[Run], Record]:
    def measure(run: Run) -> Record:
        url, headers = f"{run.stack.url('web')}{path}", run.web_headers("web")
        run.fetch(url, headers)  # the cache is filled before wrk starts
        return run.load_beside_ceiling(url, headers)

    return measure


def web_product_many_users(run: Run) -> Record:
    url = f"{run.stack.url('web')}{CACHED_PRODUCT}"
    cookies = run.many_web_cookies(MANY_USERS)
    for cookie in cookies:  # every user's entries are filled before wrk starts
        run.fetch(url, {"Cookie": cookie, "X-CSRF": "1"})
    return run.load_beside_ceiling(url, {"X-CSRF": "1"}, cookies=cookies)


def mobile_home(extra: Mapping[str, str], *, revalidate: bool = False) -> Callable[[Run], Record]:
    def measure(run: Run) -> Record:
        url, headers = f"{run.stack.url('mobile')}{MOBILE_HOME}", run.app_headers() | dict(extra)
        first = run.fetch(url, headers)
        if not revalidate:
            return run.load_beside_ceiling(url, headers)
        tagged = headers | {"If-None-Match": first.headers["etag"]}
        run.fetch(url, tagged, expect=304)
        return run.load_beside_ceiling(url, tagged, success=NOT_MODIFIED)

    return measure


def naive_bff(run: Run) -> wrk.LoadResult:
    url = f"{run.stack.url('naive')}{CACHED_PRODUCT}"
    run.fetch(url, {})
    return run.load(url)


def cold_fan_out(run: Run) -> cold.ColdFanOut:
    ids = [str(COLD_FIRST_ID + n) for n in range(min(run.plan.cold_requests, 300))]
    return cold.cold_fan_out(
        run.stack.url("web_cold"),
        run.stack.url("stubs_slow"),
        run.web_headers("web_cold"),
        ids,
        warm_ids=COLD_WARM_IDS,
        deadline_s=run.plan.loop_deadline_s,
    )


def stampede(run: Run) -> cold.Stampede:
    """Two instances on one Redis: the session and the user's data are warmed on both (the
    session from one login, since it lives in Redis), then the burst for a product never asked."""
    urls = [run.stack.url("web_cold"), run.stack.url("web_cold_b")]
    headers = run.web_headers("web_cold")
    for url in urls:
        run.fetch(f"{url}/api/products/{STAMPEDE_WARM_ID}", headers)
    return cold.stampede(
        urls,
        f"/api/products/{STAMPEDE_ID}",
        headers,
        run.stack.url("stubs_slow"),
        requests=run.plan.stampede_requests,
        deadline_s=run.plan.loop_deadline_s,
    )


def telemetry(run: Run) -> Record:
    """The same cached screen with telemetry off and on, measured off, on, on, off (each half
    the scenario's time) so a drift of the machine during the scenario weighs on both alike."""
    headers = run.web_headers("web_telemetry_off")  # one session, in the shared Redis
    urls = {
        side: f"{run.stack.url(f'web_telemetry_{side}')}{CACHED_PRODUCT}" for side in ("off", "on")
    }
    for url in urls.values():
        run.fetch(url, headers)
        wrk.run(url, seconds=run.plan.warmup_s, headers=headers)
    sides = wrk.alternating(urls, seconds=run.plan.seconds, headers=headers)
    off, on = sides["off"].load, sides["on"].load
    sink = run.stack.sink
    return {
        "off": off,
        "on": on,
        "cost": 1 - on.rps / off.rps if off.rps else None,
        "otlp_posts": sink.posts() if sink else {},
    }


MOBILE = ("mobile", "web")  # the web gateway serves the bytes of the ceiling
SCENARIOS = (
    Scenario("ceiling", "ceiling: bare Litestar, same bytes", ("web",), ceiling),
    Scenario("health_live", "web GET /health/live", ("web",), health_live),
    Scenario("web_product", "web GET /api/products/7", ("web",), web_screen(CACHED_PRODUCT)),
    Scenario("web_home", "web GET /api/home", ("web",), web_screen("/api/home")),
    Scenario(
        "web_product_many_users",
        f"web GET /api/products/7, {MANY_USERS} users",
        ("web",),
        web_product_many_users,
    ),
    Scenario("mobile_home", "mobile GET /m/v1/home (JSON)", MOBILE, mobile_home({})),
    Scenario(
        "mobile_home_msgpack", "mobile GET /m/v1/home (msgpack)", MOBILE, mobile_home(MSGPACK)
    ),
    Scenario(
        "mobile_home_304",
        "mobile GET /m/v1/home (If-None-Match)",
        MOBILE,
        mobile_home({}, revalidate=True),
    ),
    Scenario("naive_bff", "naive BFF GET /api/products/7", ("naive",), naive_bff),
    Scenario("cold_fanout", "web cold product, core +20 ms", ("web_cold",), cold_fan_out),
    Scenario("stampede", "stampede: 2 instances, 1 cold id", ("web_cold", "web_cold_b"), stampede),
    Scenario(
        "telemetry",
        "web cached product, telemetry",
        ("web_telemetry_on", "web_telemetry_off"),
        telemetry,
    ),
    Scenario(
        "api_rate_limit",
        "web cached product, API rate limit",
        ("web_api_limit_on", "web_api_limit_off"),
        rate_limit.api_rate_limit,
    ),
)
NAMES = tuple(scenario.name for scenario in SCENARIOS)
