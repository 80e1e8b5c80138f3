"""``python -m bench`` (``make bench``): every scenario beside its reference, as ratios of one run.

On a shared two-core machine absolute numbers drift from one hour to the next, so each gateway
scenario is compared with a reference measured minutes apart in the same run: the framework's
ceiling (a bare Litestar app under the same server, serving the same bytes), a naive BFF, the
core stubs called directly, the same gateway with telemetry off. Scenarios (``--only`` names):

    ceiling, health_live, web_product, web_home,            wrk, 1 thread, 32 connections,
    mobile_home, mobile_home_msgpack, mobile_home_304,      after a warm-up run; those with a
    naive_bff, telemetry                                    ceiling target beside a ceiling run
    cold_fanout      distinct cold product ids one at a time, core stubs at +20 ms
    stampede         500 requests at once for one cold id on two instances sharing Redis
    api_rate_limit   the cached product with the per-session API rate limit on and off

Everything runs on free loopback ports in processes of its own (``bench.stack``), and every
request loop is bounded in count and time. The results go to ``bench/results/latest.json``
and are printed as a table. Exit status: 0 when every measured target passes, 1 when one fails
or a scenario could not be measured, 2 when wrk is missing. ``--dry-run`` starts nothing and
writes a results file of the same shape with nothing measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench import report, table
from bench.cold import ScenarioError
from bench.logins import LoginError
from bench.options import names_of
from bench.otlp_sink import running_sink
from bench.processes import StartError
from bench.scenarios import NAMES, SCENARIOS, Plan, Run, Scenario
from bench.stack import BenchStack
from bench.wrk import CONNECTIONS, THREADS, WrkOutputError

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
QUICK = Plan(seconds=2.0, warmup_s=1.0, cold_requests=100)
BUSY_SAMPLE_S = 1.0
"""How long the machine's CPU is watched before a run, to say how busy it was."""
MEASUREMENT_ERRORS = (
    ScenarioError,
    StartError,
    LoginError,
    WrkOutputError,
    httpx.HTTPError,
    subprocess.TimeoutExpired,
    asyncio.TimeoutError,
    KeyError,  # an answer without the header or field the scenario reads
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="short runs: about a minute")
    parser.add_argument("--seconds", type=float, help="measured seconds per wrk scenario")
    parser.add_argument("--only", type=names_of(NAMES), help=f"comma list of: {', '.join(NAMES)}")
    parser.add_argument("--dry-run", action="store_true", help="start nothing; results shape only")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default {RESULTS}")
    return parser.parse_args(argv)


def plan_for(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else Plan()
    if args.seconds is not None:
        plan = Plan(
            seconds=max(1.0, args.seconds),
            warmup_s=min(plan.warmup_s, max(1.0, args.seconds / 2)),
            cold_requests=plan.cold_requests,
            stampede_requests=plan.stampede_requests,
        )
    return plan


def measure(scenarios: Sequence[Scenario], plan: Plan, log_dir: Path) -> dict[str, report.Record]:
    """Starts what the scenarios need, all at once, then runs them in order; a scenario that
    cannot be measured is recorded with its error and the others still run."""
    records: dict[str, report.Record] = {}
    with running_sink() as sink, BenchStack(log_dir, sink) as stack:
        progress(f"starting {', '.join(sorted({n for s in scenarios for n in s.needs}))}")
        try:
            stack.start({name for scenario in scenarios for name in scenario.needs})
        except StartError as exc:
            progress(str(exc))
            return {s.name: report.not_run(s.name, str(exc)) for s in scenarios}
        run = Run(stack, plan)
        for scenario in scenarios:
            started = time.monotonic()
            try:
                records[scenario.name] = report.ran(scenario.measure(run))
            except MEASUREMENT_ERRORS as exc:
                progress(f"{scenario.name} could not be measured: {exc!r}")
                records[scenario.name] = report.not_run(scenario.name, repr(exc))
            progress(f"{scenario.name}: {time.monotonic() - started:.0f} s")
    return records


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [s for s in SCENARIOS if args.only is None or s.name in args.only]
    plan = plan_for(args)
    if not args.dry_run and shutil.which("wrk") is None:
        print("bench: wrk is needed: apt-get install wrk (or run 'make bench')", file=sys.stderr)
        return 2
    busy = report.cpu_busy_share(BUSY_SAMPLE_S)
    if busy is not None:
        progress(f"the machine was {busy:.0%} busy before the run")
    records = {} if args.dry_run else measure(chosen, plan, args.output.parent / "logs")
    settings = {
        "quick": args.quick,
        "only": args.only,
        "seconds": plan.seconds,
        "warmup_s": plan.warmup_s,
        "wrk": {"threads": THREADS, "connections": CONNECTIONS},
        "cold_requests": plan.cold_requests,
        "stampede_requests": plan.stampede_requests,
    }
    document = report.document(records, settings, dry_run=args.dry_run, cpu_busy_before=busy)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    print(table.render(document, {s.name: s.title for s in SCENARIOS}))
    print(f"\nresults: {args.output}")
    unmeasured = any(record["error"] for record in records.values())
    return 1 if document["summary"]["failed"] or unmeasured else 0


if __name__ == "__main__":
    sys.exit(main())
