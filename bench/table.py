"""The table ``python -m bench`` prints: every scenario's numbers (with the req/s of the
ceiling run beside it, where its target is relative to one), then each target with its value
and a pass/fail mark. It is drawn from the results document alone, so what is printed is what
was saved."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Record = dict[str, Any]
Row = tuple[str, Any, Any, Any, Any, Any, Any]
WIDTH = 44
MARKS = {True: "pass", False: "FAIL", None: "-"}


def _number(value: Any, digits: int) -> str:
    return f"{value:,.{digits}f}" if isinstance(value, int | float) else "-"


def _row(label: str, data: Record) -> Row:
    return (
        label,
        data.get("rps"),
        data.get("p50_ms"),
        data.get("p95_ms"),
        data.get("p99_ms"),
        data.get("failed"),
        (data.get("paired_ceiling") or {}).get("rps"),
    )


def scenario_rows(name: str, title: str, data: Record) -> Iterator[Row]:
    if name == "cold_fanout":
        yield _row(f"{title}: gateway", data["gateway"])
        yield _row(f"{title}: stubs direct", data["direct"])
    elif name == "stampede":
        loads = data["product_loads"]
        yield _row(f"{title}: {'-' if loads is None else loads} loads", data["answers"])
    elif name == "telemetry":
        yield _row(f"{title}: off", data["off"])
        yield _row(f"{title}: on (OTLP)", data["on"])
    elif name == "api_rate_limit":
        commands = data.get("redis_scripts_per_request") or {}
        for side in ("off", "on"):
            per_request = _number(commands.get(side), 2)
            yield _row(f"{title}: {side}, {per_request} Redis scripts/req", data[side])
    else:
        yield _row(title, data)


def render(document: Record, titles: Mapping[str, str]) -> str:
    lines = [
        f"{'scenario':{WIDTH}} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'failed':>7} {'ceiling beside':>14}"
    ]
    for name, data in document["scenarios"].items():
        if not data["ran"]:
            error = (data["error"] or "").strip().splitlines()
            reason = f"not run: {error[0][:100]}" if error else "not run"
            lines.append(f"{titles.get(name, name):{WIDTH}} {reason}")
            continue
        for label, rps, p50, p95, p99, failed, beside in scenario_rows(
            name, titles.get(name, name), data
        ):
            lines.append(
                f"{label[:WIDTH]:{WIDTH}} {_number(rps, 0):>9} {_number(p50, 2):>8} "
                f"{_number(p95, 2):>8} {_number(p99, 2):>8} {_number(failed, 0):>7} "
                f"{_number(beside, 0) if beside else '':>14}"
            )
    lines += ["", f"{'target':{WIDTH}} {'value':>9} {'limit':>10}  result"]
    for check in document["ratios"].values():
        limit = f"{check['target']['op']} {check['target']['limit']:g}"
        lines.append(
            f"{check['description'][:WIDTH]:{WIDTH}} {_number(check['value'], 3):>9} "
            f"{limit:>10}  {MARKS[check['pass']]}"
        )
    summary = document["summary"]
    lines += [
        "",
        f"{summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['not_measured']} not measured"
        + (" (dry run: nothing was measured)" if document["dry_run"] else ""),
        *busy_machine_lines(document["machine"].get("cpu_busy_before")),
    ]
    return "\n".join(line.rstrip() for line in lines)


BUSY_WARNING = 0.10
"""Above this share of CPU busy before a run, the table says its ratios are less comparable."""


def busy_machine_lines(busy: float | None) -> list[str]:
    if busy is None:
        return []
    line = f"the machine was {busy:.0%} busy before the run"
    if busy <= BUSY_WARNING:
        return [line]
    return [
        f"{line}: something else is running; a busy machine slows the ceiling more than the",
        "gateway, so compare ratios only between runs on a quiet machine",
    ]
