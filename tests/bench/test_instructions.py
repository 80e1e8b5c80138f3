"""``python -m bench.instructions`` plumbing, without valgrind: the results file has every target
in every run, and a missing valgrind is one line and exit status 2 (nothing is counted here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.callgrind import read_total
from bench.inprocess import Drive
from bench.instructions import NAMES, TITLES, telemetry_env

ROOT = Path(__file__).resolve().parent.parent.parent


def instructions(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.instructions", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def test_a_dry_run_writes_a_results_file_with_every_target_and_nothing_measured(
    tmp_path: Path,
) -> None:
    output = tmp_path / "nested" / "instructions.json"
    done = instructions("--dry-run", "--requests", "7", "--output", str(output))
    assert done.returncode == 0, done.stderr
    results = json.loads(output.read_text())
    assert results["dry_run"] is True
    assert results["settings"]["requests"] == 7
    assert list(results["targets"]) == list(NAMES)
    for target in results["targets"].values():
        assert target["ran"] is False
        assert target["per_request"] is None
        assert target["vs_ceiling"] is None
        assert target["expect"] in {200, 304}
    assert results["targets"]["mobile_home_304"]["expect"] == 304
    assert len(results["git"]["commit"]) == 40
    assert "web GET /api/products/7" in done.stdout  # the table was printed too
    assert not (tmp_path / "nested" / "logs").exists()  # nothing was started


def test_without_valgrind_it_says_how_to_install_it_and_exits_2(tmp_path: Path) -> None:
    output = tmp_path / "instructions.json"
    env = {**os.environ, "PATH": str(tmp_path)}  # no valgrind, no callgrind_control
    done = instructions("--output", str(output), env=env)
    assert done.returncode == 2
    assert "apt-get install valgrind" in done.stderr
    assert not output.exists()


def test_an_unknown_target_is_refused_with_the_known_ones() -> None:
    done = instructions("--dry-run", "--only", "nope", "--output", "-")
    assert done.returncode == 2
    assert "mobile_home_304" in done.stderr


def test_the_total_is_read_from_a_callgrind_out_file(tmp_path: Path) -> None:
    out_file = tmp_path / "callgrind.out"
    out_file.write_text(
        "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nfn=main\n1 5\ntotals: 1234567\n"
    )
    assert read_total(out_file) == 1234567


def test_a_drive_goes_to_the_child_and_back_unchanged() -> None:
    drive = Drive("bff_web.app:create_app", "/api/home", {"X-CSRF": "1"}, revalidate=True)
    assert Drive.loads(drive.dumps()) == drive


def test_a_dry_run_with_telemetry_off_says_so_in_the_results_and_the_table(
    tmp_path: Path,
) -> None:
    output = tmp_path / "instructions.json"
    done = instructions("--dry-run", "--telemetry", "off", "--output", str(output))
    assert done.returncode == 0, done.stderr
    results = json.loads(output.read_text())
    assert results["settings"]["telemetry"] == "off"
    assert "telemetry off" in done.stdout
    assert "web GET /bff/user (session read alone)" in done.stdout


def test_telemetry_off_turns_off_the_histogram_the_span_and_the_access_line() -> None:
    assert telemetry_env("on") == {}
    quiet = telemetry_env("off")
    assert quiet["OTEL_METRICS_EXPORTER"] == "none"
    assert quiet["OTEL_TRACES_SAMPLER"] == "always_off"
    assert quiet["BFF_LOG_LEVEL"] == "warning"  # the access line is logged at info


def test_the_session_alone_is_a_target_of_its_own() -> None:
    assert "web_session" in NAMES
    assert TITLES["web_session"].startswith("web GET /bff/user")
