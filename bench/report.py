"""The results of a run: one JSON document (``bench/results/latest.json`` unless ``--output``)
and the table printed from it.

The document has the same keys in every run, whether a scenario ran, failed, was left out by
``--only`` or the run was ``--dry-run``: numbers that were not measured are ``null``. Each
target compares one value, mostly a ratio of two scenarios of this run, with its limit;
``pass`` is ``null`` when the value could not be computed.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bench import cold, wrk

SCHEMA_VERSION = 1
ROOT = Path(__file__).resolve().parent.parent
Record = dict[str, Any]
Records = Mapping[str, Record]


# --- record shapes ----------------------------------------------------------------------------


def _nulls(cls: type[Any]) -> Record:
    """A dataclass's fields, every number ``null`` and every mapping empty."""
    return {f.name: {} if str(f.type).startswith("dict") else None for f in dataclasses.fields(cls)}


_LOAD = _nulls(wrk.LoadResult)
_BESIDE_CEILING = {**_LOAD, "paired_ceiling": _LOAD}
_LATENCIES = _nulls(cold.Latencies)
SHAPES: dict[str, Record] = {
    "ceiling": _LOAD,
    "health_live": _BESIDE_CEILING,
    "web_product": _BESIDE_CEILING,
    "web_home": _BESIDE_CEILING,
    "web_product_many_users": _BESIDE_CEILING,
    "mobile_home": _BESIDE_CEILING,
    "mobile_home_msgpack": _BESIDE_CEILING,
    "mobile_home_304": _BESIDE_CEILING,
    "naive_bff": _LOAD,
    "cold_fanout": {
        "gateway": _LATENCIES,
        "direct": _LATENCIES,
        "overhead_p50_ms": None,
        "overhead_p95_ms": None,
    },
    "stampede": {"answers": _LATENCIES, "product_loads": None, "catalog_calls": {}},
    "telemetry": {"off": _LOAD, "on": _LOAD, "cost": None, "otlp_posts": {}},
    "api_rate_limit": {"off": _LOAD, "on": _LOAD, "cost": None, "redis_scripts_per_request": {}},
}
"""What each scenario records; the scenarios' names in the order they run."""


def record(measured: Any) -> Record:
    """A measurement (dataclasses, possibly inside a dict) as JSON-ready data."""
    if dataclasses.is_dataclass(measured) and not isinstance(measured, type):
        return record(dataclasses.asdict(measured))
    if isinstance(measured, dict):
        return {
            str(key): record(value)
            if isinstance(value, dict) or dataclasses.is_dataclass(value)
            else value
            for key, value in measured.items()
        }
    raise TypeError(f"not a measurement: {measured!r}")


def not_run(name: str, error: str | None = None) -> Record:
    return {"ran": False, "error": error, **SHAPES[name]}


def ran(measured: Any) -> Record:
    return {"ran": True, "error": None, **record(measured)}


# --- targets ----------------------------------------------------------------------------------


def _get(records: Records, name: str, *path: str) -> float | None:
    value: Any = records.get(name, {})
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _ratio(top: str, bottom: str) -> Callable[[Records], float | None]:
    """``top``'s req/s over ``bottom``'s: the run of ``bottom`` paired with ``top`` where
    there is one (``paired_ceiling``), else ``bottom``'s own scenario."""

    def value(records: Records) -> float | None:
        above = _get(records, top, "rps")
        below = _get(records, top, f"paired_{bottom}", "rps") or _get(records, bottom, "rps")
        return above / below if above is not None and below else None

    return value


def _field(name: str, *path: str) -> Callable[[Records], float | None]:
    return lambda records: _get(records, name, *path)


def failed_answers(records: Records) -> Iterator[tuple[str, int]]:
    """Each scenario's failed requests (not 2xx, or not 304 where 304 is the answer sought),
    over all its parts (telemetry off and on; the gateway and the direct calls)."""
    for name, data in records.items():
        parts = [data, *(part for part in data.values() if isinstance(part, dict))]
        counts = [part["failed"] for part in parts if isinstance(part.get("failed"), int)]
        if data.get("ran") and counts:
            yield name, sum(counts)


def _all_answered(records: Records) -> float | None:
    counts = [n for _, n in failed_answers(records)]
    return float(sum(counts)) if counts else None


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    op: Literal[">=", "<=", "=="]
    limit: float
    value: Callable[[Records], float | None]

    def check(self, records: Records) -> Record:
        value = self.value(records)
        passed = None if value is None else _compare(value, self.op, self.limit)
        return {
            "description": self.description,
            "value": value,
            "target": {"op": self.op, "limit": self.limit},
            "pass": passed,
        }


def _compare(value: float, op: str, limit: float) -> bool:
    return {">=": value >= limit, "<=": value <= limit, "==": value == limit}[op]


THROUGHPUT_FLOORS = {
    # (scenario, reference): the least share of the reference's req/s the scenario must reach
    ("web_product", "ceiling"): (0.20, "cached web product / ceiling"),
    ("web_home", "ceiling"): (0.15, "cached web home / ceiling"),
    ("health_live", "ceiling"): (0.6, "/health/live / ceiling"),
    ("mobile_home", "ceiling"): (0.15, "cached mobile home (JSON) / ceiling"),
    ("mobile_home_msgpack", "ceiling"): (0.15, "cached mobile home (msgpack) / ceiling"),
    ("mobile_home_304", "ceiling"): (0.25, "mobile home 304 / ceiling"),
    ("web_product", "naive_bff"): (10.0, "cached web product / naive BFF"),
}
TARGETS = (
    *(
        Target(f"{top}_vs_{bottom.removesuffix('_bff')}", text, ">=", floor, _ratio(top, bottom))
        for (top, bottom), (floor, text) in THROUGHPUT_FLOORS.items()
    ),
    Target(
        "cold_overhead_p50_ms",
        "cold fan-out overhead p50 (ms)",
        "<=",
        3.0,
        _field("cold_fanout", "overhead_p50_ms"),
    ),
    Target(
        "cold_overhead_p95_ms",
        "cold fan-out overhead p95 (ms)",
        "<=",
        10.0,
        _field("cold_fanout", "overhead_p95_ms"),
    ),
    Target(
        "stampede_product_loads",
        "stampede: product fetches reaching the core",
        "==",
        1.0,
        _field("stampede", "product_loads"),
    ),
    Target("telemetry_cost", "telemetry cost, 1 - on/off", "<=", 0.15, _field("telemetry", "cost")),
    Target(
        "failed_requests",
        "requests not answered 2xx (304 where sought), all scenarios",
        "==",
        0.0,
        _all_answered,
    ),
)


# --- the document -----------------------------------------------------------------------------


def machine(cpu_busy_before: float | None = None) -> Record:
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_busy_before": cpu_busy_before,
    }


def cpu_busy_share(seconds: float) -> float | None:
    """The share of the machine's CPU time not idle over ``seconds`` (``/proc/stat``), taken
    before a run: what else is running. A busy machine slows the bare-framework ceiling far
    more than the gateway, so it moves every ratio (``docs/performance.md``, round 7). None
    where ``/proc/stat`` cannot be read."""
    first = _cpu_times()
    time.sleep(seconds)
    second = _cpu_times()
    if first is None or second is None:
        return None
    total = sum(second) - sum(first)
    idle = (second[3] + second[4]) - (first[3] + first[4])  # idle and iowait
    return None if total <= 0 else round(1 - idle / total, 3)


def _cpu_times() -> list[int] | None:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    return [int(value) for value in fields[1:8]] if fields[:1] == ["cpu"] else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> Record:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=10
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    # The results themselves do not make the code dirty.
    changes = git("status", "--porcelain", "--", ".", ":(exclude)bench/results")
    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(changes)}


def run_facts(*, dry_run: bool, cpu_busy_before: float | None = None) -> Record:
    """What every results file says of its run (``bench.instructions`` too): when, which code,
    which machine, and how busy it was before the run."""
    return {
        "dry_run": dry_run,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": git_commit(),
        "machine": machine(cpu_busy_before),
    }


def document(
    records: Records,
    settings: Record,
    *,
    dry_run: bool,
    cpu_busy_before: float | None = None,
) -> Record:
    ratios = {target.name: target.check(records) for target in TARGETS}
    verdicts = [check["pass"] for check in ratios.values()]
    return {
        "schema": SCHEMA_VERSION,
        **run_facts(dry_run=dry_run, cpu_busy_before=cpu_busy_before),
        "settings": settings,
        "scenarios": {name: records.get(name, not_run(name)) for name in SHAPES},
        "ratios": ratios,
        "summary": {
            "passed": verdicts.count(True),
            "failed": verdicts.count(False),
            "not_measured": verdicts.count(None),
        },
    }
