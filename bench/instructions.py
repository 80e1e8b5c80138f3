"""``python -m bench.instructions`` (``make bench-instructions``): CPU instructions per request,
counted by valgrind's callgrind, for the gateways' cached screens and the framework's ceiling.

Why instructions: ``make bench`` measures req/s, which on a shared two-core machine moves by more
than 5 % from one minute to the next, so a change worth 3 % cannot be seen in it. The number of
user-space instructions a request executes does not depend on what else the machine does: two
runs agree within about 2 %. It is not time (cache misses, system calls and waiting on Redis are
not in it), so it says whether a change made the Python work smaller, not by how many req/s.

Each target runs in a child of its own (``bench.inprocess``) under callgrind with instrumentation
off: the app is built in-process with a bench gateway's environment (``BenchStack.gateway_env``),
its lifespan runs, warm-up requests go through ASGI, and only then is instrumentation switched
on for the measured requests, sent one at a time (``bench.callgrind``). Redis, the IdP, the core
stubs and the ``web`` and ``mobile`` gateways (used only to log in, and to give the ceiling the
bytes of the product screen) run as in ``make bench`` (``bench.stack``). The hash seed is fixed in
the children, so dict and set layouts, and with them the counts, repeat from run to run.

Beside the screens, ``web_session`` counts ``GET /bff/user``, which reads the cookie session and
answers its claims: the session read alone, the part of every screen no cache can take (a
session ended anywhere is refused everywhere on its next request). ``--telemetry off`` builds
the gateways without the request-duration histogram, the server span and the access line, so
two runs tell what an SRE's per-request records cost against the rest.

The results go to ``bench/results/instructions.json`` unless ``--output``, and are printed as a
table: instructions per request and each target's multiple of the ceiling's. Exit status: 0
when every chosen target was measured, 1 when one was not, 2 when valgrind is missing.
``--dry-run`` starts nothing and writes a results file of the same shape with nothing measured.
The callgrind out-files stay in ``bench/results/logs/`` for ``callgrind_annotate``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import report
from bench.callgrind import CallgrindError, count_instructions, missing_tools, valgrind_version
from bench.ceiling import BODY_FILE_VARIABLE
from bench.cold import ScenarioError
from bench.inprocess import Drive
from bench.logins import LoginError
from bench.options import names_of, positive
from bench.processes import StartError
from bench.scenarios import CACHED_PRODUCT, MOBILE_HOME, MSGPACK, SCENARIOS, Plan, Run
from bench.stack import GATEWAYS, BenchStack, clean_environ

RESULTS = Path(__file__).resolve().parent / "results" / "instructions.json"
SCHEMA_VERSION = 1
REQUESTS = 300
WARMUP = 50
FACTORIES = {"web": "bff_web.app:create_app", "mobile": "bff_mobile.app:create_app"}
CEILING_FACTORY = "bench.ceiling:create_app"
FIXED_HASH_SEED = {"PYTHONHASHSEED": "0"}
MEASUREMENT_ERRORS = (
    CallgrindError,
    ScenarioError,
    LoginError,
    httpx.HTTPError,
    subprocess.SubprocessError,
    OSError,
)
SESSION_ALONE = "/bff/user"
"""A route that reads the cookie session (one script in Redis) and answers its claims: what a
screen costs before its first part, without the API rate count that rides with a screen's read."""
TITLES = {scenario.name: scenario.title for scenario in SCENARIOS} | {
    "web_session": f"web GET {SESSION_ALONE} (session read alone)"
}
QUIET_TELEMETRY = {
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_TRACES_SAMPLER": "always_off",
    "BFF_LOG_LEVEL": "warning",
}
"""``--telemetry off``: no request-duration histogram, no server span, no access line; what
the gateways cost without what an SRE needs of every request (docs/performance.md, round 8)."""
Record = dict[str, Any]


@dataclass(frozen=True)
class Target:
    """One request, sent by one driver: to a gateway (``web``, ``mobile``) or the ceiling."""

    name: str
    gateway: str | None
    path: str
    logged_in: bool = True
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    revalidate: bool = False

    @property
    def expect(self) -> int:
        return 304 if self.revalidate else 200

    @property
    def needs(self) -> set[str]:
        return {self.gateway or "web"}  # the ceiling serves the web gateway's bytes


TARGETS = (
    Target("ceiling", None, CACHED_PRODUCT, logged_in=False),
    Target("health_live", "web", "/health/live", logged_in=False),
    Target("web_session", "web", SESSION_ALONE),
    Target("web_product", "web", CACHED_PRODUCT),
    Target("web_home", "web", "/api/home"),
    Target("mobile_home", "mobile", MOBILE_HOME),
    Target("mobile_home_msgpack", "mobile", MOBILE_HOME, extra_headers=MSGPACK),
    Target("mobile_home_304", "mobile", MOBILE_HOME, revalidate=True),
)
NAMES = tuple(target.name for target in TARGETS)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--only", type=names_of(NAMES), help=f"comma list of: {', '.join(NAMES)}")
    parser.add_argument("--requests", type=positive, default=REQUESTS, help="measured, each")
    parser.add_argument("--warmup", type=positive, default=WARMUP, help="before, each")
    parser.add_argument(
        "--telemetry",
        choices=("on", "off"),
        default="on",
        help="off: the gateways without histogram, server span and access line (default on)",
    )
    parser.add_argument("--dry-run", action="store_true", help="start nothing; results shape only")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default {RESULTS}")
    return parser.parse_args(argv)


class Measurement:
    """The running stack, the logged-in users, and where the children's files go."""

    def __init__(
        self, run: Run, work_dir: Path, requests: int, warmup: int, telemetry: str = "on"
    ) -> None:
        self.run, self.work_dir = run, work_dir
        self.requests, self.warmup = requests, warmup
        self.telemetry = telemetry

    def drive(self, target: Target) -> tuple[Drive, dict[str, str]]:
        """What the child sends, and the environment it builds its app with."""
        headers = dict(target.extra_headers)
        if target.logged_in:
            run = self.run
            headers |= run.app_headers() if target.gateway == "mobile" else run.web_headers("web")
        env = clean_environ() | FIXED_HASH_SEED
        if target.gateway is None:
            env[BODY_FILE_VARIABLE] = str(self._ceiling_body())
            factory = CEILING_FACTORY
        else:
            stack = self.run.stack
            env |= stack.gateway_env(GATEWAYS[target.gateway], stack.url(target.gateway))
            env |= telemetry_env(self.telemetry)
            factory = FACTORIES[target.gateway]
        drive = Drive(
            factory,
            target.path,
            headers,
            expect=target.expect,
            revalidate=target.revalidate,
            warmup=self.warmup,
            requests=self.requests,
        )
        return drive, env

    def count(self, target: Target) -> Record:
        drive, env = self.drive(target)
        total = count_instructions(target.name, drive, env, self.work_dir)
        return {"instructions": total, "per_request": total / self.requests}

    def _ceiling_body(self) -> Path:
        """The bytes the web gateway answers for the cached product, served by the ceiling."""
        body_file = self.work_dir / "ceiling-body"
        web = self.run.stack.url("web")
        headers = self.run.web_headers("web")
        body_file.write_bytes(self.run.fetch(f"{web}{CACHED_PRODUCT}", headers).content)
        return body_file


def telemetry_env(telemetry: str) -> dict[str, str]:
    """What a gateway child is built with on top of the bench gateway's own settings."""
    return dict(QUIET_TELEMETRY) if telemetry == "off" else {}


def measure(
    targets: Sequence[Target], requests: int, warmup: int, log_dir: Path, telemetry: str = "on"
) -> dict[str, Record]:
    """Starts the stack once, then one child a target, in order; a target that cannot be
    measured is recorded with its error and the others still run."""
    records: dict[str, Record] = {}
    with BenchStack(log_dir) as stack:
        needs: set[str] = set().union(*(target.needs for target in targets))
        progress(f"starting {', '.join(sorted(needs))}")
        try:
            stack.start(needs)
        except StartError as exc:
            progress(str(exc))
            return {target.name: {"error": str(exc)} for target in targets}
        measurement = Measurement(Run(stack, Plan()), log_dir, requests, warmup, telemetry)
        for target in targets:
            started = time.monotonic()
            try:
                records[target.name] = measurement.count(target)
            except MEASUREMENT_ERRORS as exc:
                progress(f"{target.name} could not be measured: {exc}")
                records[target.name] = {"error": str(exc)}
                continue
            per_request = records[target.name]["per_request"]
            took = time.monotonic() - started
            progress(f"{target.name}: {per_request:,.0f} instructions/request ({took:.0f} s)")
    return records


def document(records: Mapping[str, Record], settings: Record, *, dry_run: bool) -> Record:
    """Every target in every run, measured or not: numbers not measured are ``null``."""
    ceiling = records.get("ceiling", {}).get("per_request")
    results: dict[str, Record] = {}
    for target in TARGETS:
        measured = records.get(target.name, {})
        per_request = measured.get("per_request")
        results[target.name] = {
            "title": TITLES[target.name],
            "path": target.path,
            "expect": target.expect,
            "ran": per_request is not None,
            "error": measured.get("error"),
            "instructions": measured.get("instructions"),
            "per_request": per_request,
            "vs_ceiling": per_request / ceiling if per_request is not None and ceiling else None,
        }
    return {
        "schema": SCHEMA_VERSION,
        **report.run_facts(dry_run=dry_run),
        "settings": settings,
        "targets": results,
    }


def render(document: Record) -> str:
    width = 44
    lines = [f"{'target':{width}} {'instructions/request':>20} {'x ceiling':>10}"]
    for data in document["targets"].values():
        if not data["ran"]:
            error = (data["error"] or "").strip().splitlines()
            lines.append(
                f"{data['title']:{width}} not run" + (f": {error[0][:80]}" if error else "")
            )
            continue
        ratio = data["vs_ceiling"]
        lines.append(
            f"{data['title'][:width]:{width}} {data['per_request']:>20,.0f} "
            f"{'' if ratio is None else f'{ratio:.2f}':>10}"
        )
    settings = document["settings"]
    lines += [
        "",
        f"{settings['requests']} requests a target, one at a time, after {settings['warmup']} "
        "unmeasured"
        + ("" if settings.get("telemetry", "on") == "on" else ", telemetry off")
        + (" (dry run: nothing was measured)" if document["dry_run"] else ""),
    ]
    return "\n".join(line.rstrip() for line in lines)


def progress(message: str) -> None:
    print(f"bench.instructions: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [t for t in TARGETS if args.only is None or t.name in args.only]
    missing = missing_tools()
    if not args.dry_run and missing:
        progress(
            f"{' and '.join(missing)} needed: apt-get install valgrind (or make bench-instructions)"
        )
        return 2
    log_dir = args.output.parent / "logs"
    records = (
        {} if args.dry_run else measure(chosen, args.requests, args.warmup, log_dir, args.telemetry)
    )
    settings = {
        "only": args.only,
        "requests": args.requests,
        "warmup": args.warmup,
        "telemetry": args.telemetry,
        "tool": "valgrind --tool=callgrind --instr-atstart=no",
        "valgrind": None if args.dry_run else valgrind_version(),
    }
    results = document(records, settings, dry_run=args.dry_run)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    print(f"\nresults: {args.output}")
    return 1 if any(record.get("error") for record in records.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
