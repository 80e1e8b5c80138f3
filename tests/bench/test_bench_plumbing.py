"""``python -m bench`` plumbing, without load: the results file has every scenario, ratio and
target in every run, and the targets judge the numbers they are given (never timed here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import report, table
from bench.scenarios import NAMES

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_dry_run_writes_a_results_file_with_every_scenario_ratio_and_target(
    tmp_path: Path,
) -> None:
    output = tmp_path / "nested" / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--dry-run", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(output.read_text())
    assert results["dry_run"] is True
    assert list(results["scenarios"]) == list(NAMES)
    expected_ratios = {
        "web_product_vs_ceiling",
        "web_home_vs_ceiling",
        "health_live_vs_ceiling",
        "mobile_home_vs_ceiling",
        "mobile_home_msgpack_vs_ceiling",
        "mobile_home_304_vs_ceiling",
        "cold_overhead_p50_ms",
        "cold_overhead_p95_ms",
        "web_product_vs_naive",
        "stampede_product_loads",
        "telemetry_cost",
        "failed_requests",
    }
    assert set(results["ratios"]) == expected_ratios
    assert {target.name for target in report.TARGETS} == expected_ratios
    for check in results["ratios"].values():
        assert set(check) == {"description", "value", "target", "pass"}
        assert check["target"]["op"] in {">=", "<=", "=="}
        assert isinstance(check["target"]["limit"], int | float)
        assert check["value"] is None  # nothing was measured
        assert check["pass"] is None
    for name, scenario in results["scenarios"].items():
        assert scenario["ran"] is False
        assert scenario.items() >= report.SHAPES[name].items()
    assert {"nproc", "cpu_model"} <= set(results["machine"])
    assert 0.0 <= results["machine"]["cpu_busy_before"] <= 1.0  # read from /proc/stat
    assert len(results["git"]["commit"]) == 40
    assert results["date"]
    assert "web GET /api/products/7" in done.stdout  # the table was printed too


def test_an_unknown_scenario_name_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--dry-run", "--only", "nope", "--output", "-"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "stampede" in done.stderr


def load(rps: float, failed: int = 0) -> dict[str, Any]:
    return report.ran({"rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "failed": failed})


def measured() -> dict[str, dict[str, Any]]:
    return {
        "ceiling": load(10_000),
        "health_live": load(5_000),
        "web_product": load(2_500),
        "naive_bff": load(100),
        "mobile_home_304": load(2_000, failed=3),
        "cold_fanout": report.ran(
            {
                "gateway": {"rps": 40.0, "failed": 0},
                "direct": {"rps": 45.0, "failed": 1},
                "overhead_p50_ms": 2.5,
                "overhead_p95_ms": 11.0,
            }
        ),
        "stampede": report.ran({"answers": {"failed": 0}, "product_loads": 1}),
        "telemetry": report.ran({"off": load(3000), "on": load(2400), "cost": 0.2}),
    }


def test_targets_judge_ratios_of_the_same_run_and_skip_what_was_not_measured() -> None:
    ratios = report.document(measured(), {}, dry_run=False)["ratios"]
    assert ratios["web_product_vs_ceiling"]["value"] == 0.25
    assert ratios["web_product_vs_ceiling"]["pass"] is True
    assert ratios["health_live_vs_ceiling"]["pass"] is False  # 0.5 < 0.6
    assert ratios["web_product_vs_naive"]["value"] == 25.0
    assert ratios["cold_overhead_p50_ms"]["pass"] is True
    assert ratios["cold_overhead_p95_ms"]["pass"] is False
    assert ratios["stampede_product_loads"]["pass"] is True
    assert ratios["telemetry_cost"]["pass"] is False
    assert ratios["web_home_vs_ceiling"] == {
        "description": "cached web home / ceiling",
        "value": None,
        "target": {"op": ">=", "limit": 0.15},
        "pass": None,
    }


def test_a_ratio_to_the_ceiling_uses_the_ceiling_run_paired_with_the_scenario() -> None:
    """The ceiling measured seconds before the scenario, not the one at the start of the run."""
    records = measured()
    records["web_home"] = report.ran({**load(900), "paired_ceiling": {"rps": 4_500.0}})
    ratios = report.document(records, {}, dry_run=False)["ratios"]
    assert ratios["web_home_vs_ceiling"]["value"] == 0.2
    assert ratios["web_product_vs_ceiling"]["value"] == 0.25  # no pair: the ceiling scenario


def test_failed_requests_are_counted_in_every_part_of_every_scenario() -> None:
    """Telemetry's two sides, the cold loop's direct calls: a failure anywhere fails the run."""
    records = measured()
    assert dict(report.failed_answers(records)) == {
        "ceiling": 0,
        "health_live": 0,
        "web_product": 0,
        "naive_bff": 0,
        "mobile_home_304": 3,
        "cold_fanout": 1,
        "stampede": 0,
        "telemetry": 0,
    }
    check = report.document(records, {}, dry_run=False)["ratios"]["failed_requests"]
    assert (check["value"], check["pass"]) == (4, False)


def test_the_table_shows_each_measured_part_and_each_verdict() -> None:
    document = report.document(measured(), {}, dry_run=False)
    printed = table.render(document, {"telemetry": "telemetry", "stampede": "stampede"})
    assert "telemetry: off" in printed
    assert "telemetry: on (OTLP)" in printed
    assert "stampede: 1 loads" in printed
    assert "FAIL" in printed
    assert "pass" in printed
    assert "web_home" in printed  # not measured, named by its key where no title is given


def test_the_share_of_cpu_busy_before_a_run_sees_another_process_working() -> None:
    """A process spinning on each core keeps the machine well over half busy."""
    cores = len(os.sched_getaffinity(0))
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        busy = report.cpu_busy_share(0.5)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert busy is not None
    assert busy >= 0.6


def test_the_table_says_when_the_machine_was_busy_before_the_run() -> None:
    def printed(busy: float | None) -> str:
        document = report.document(measured(), {}, dry_run=False, cpu_busy_before=busy)
        return table.render(document, {})

    assert "the machine was 3% busy before the run" in printed(0.03)
    assert "compare ratios only" not in printed(0.03)
    assert "the machine was 37% busy before the run: something else" in printed(0.37)
    assert "compare ratios only between runs on a quiet machine" in printed(0.37)
    assert "busy before the run" not in printed(None)
