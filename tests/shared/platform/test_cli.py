"""The production side of the `bff` command (`serve`, `config check`), over real processes, and
proof that it, and both gateways, run without a single development dependency."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shared.platform.cli import main
from tests.fixtures.servers import free_port

ROOT = Path(__file__).resolve().parents[3]
BFF = [sys.executable, "-m", "shared.platform.cli"]
PROD_WITHOUT_REDIS = {
    "BFF_ENV": "prod",
    "BFF_PUBLIC_URL": "https://shop.example.com",
    "BFF_OIDC_ISSUER": "https://id.example.com",
    "BFF_OIDC_CLIENT_SECRET": "s3cret-client",
    "BFF_SECRET_KEY": "Zq3v9XkP2mW7rT5yB8nL4cF6hJ1dG0sA",
    "BFF_ALLOWED_ORIGINS": "https://shop.example.com",
}
WORKERS_NEED_REDIS = (
    "bff: configuration error: BFF_REDIS_URL: is required when BFF_ENV=prod runs more than one "
    "worker (in-memory sessions are not shared between processes)"
)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any gateway or OpenTelemetry setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BFF_", "OTEL_"))}
    env.update(extra)
    return env


def run_python(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_bff(*command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_python(*BFF[1:], *command, **env)


def test_config_check_prints_redacted_settings() -> None:
    result = run_bff("config", "check", "web", BFF_OIDC_CLIENT_SECRET="very-secret-client-value")
    assert result.returncode == 0
    assert '"oidc_client_secret": "<redacted>"' in result.stdout
    assert '"mobile_dpop": "optional"' in result.stdout
    assert "very-secret-client-value" not in result.stdout + result.stderr


def test_bad_configuration_stops_start_up_with_one_line() -> None:
    """Both `config check` and `serve` refuse a bad value with one line naming the variable."""
    for command in (["config", "check", "mobile"], ["serve", "mobile", "--port", str(free_port())]):
        result = run_bff(*command, BFF_ENV="prod", BFF_PUBLIC_URL="https://m.example.com")
        assert result.returncode == 2, command
        lines = result.stderr.strip().splitlines()
        assert lines == ["bff: configuration error: BFF_SECRET_KEY: is required when BFF_ENV=prod"]


def test_a_minimum_app_version_the_gate_cannot_read_is_refused_before_start_up() -> None:
    """`1234567890.0` used to pass `config check` and then stop the mobile gateway with a
    traceback; now both commands refuse it in one line."""
    for command in (["config", "check", "mobile"], ["serve", "mobile", "--port", str(free_port())]):
        result = run_bff(*command, BFF_MOBILE_MIN_APP_VERSION="1234567890.0")
        assert result.returncode == 2, command
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("bff: configuration error: BFF_MOBILE_MIN_APP_VERSION: ")


def test_serve_refuses_several_workers_without_redis_in_the_same_words_as_the_settings() -> None:
    from_the_environment = run_bff("config", "check", "web", **PROD_WITHOUT_REDIS, BFF_WORKERS="2")
    port = str(free_port())
    from_the_command_line = run_bff(
        "serve", "web", "--port", port, "--workers", "2", **PROD_WITHOUT_REDIS
    )
    for result in (from_the_environment, from_the_command_line):
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [WORKERS_NEED_REDIS]


def test_serve_reports_a_taken_port_in_one_line() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        result = run_bff("serve", "web", "--port", str(taken))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"bff: port {taken} on 127.0.0.1 is already in use"
    ]


def test_serve_runs_a_gateway_until_sigterm() -> None:
    port = free_port()
    process = subprocess.Popen(
        [*BFF, "serve", "web", "--port", str(port)],
        cwd=ROOT,
        env=clean_env(BFF_LOG_FORMAT="json"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        status = None
        deadline = time.monotonic() + 60
        while status != 200 and time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code
            except httpx.HTTPError:
                time.sleep(0.2)
        assert status == 200
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    listed = capsys.readouterr().out
    for command in ("dev", "serve", "stubs", "idp", "config"):
        assert f"    {command} " in listed or f"    {command}\n" in listed, command


def test_the_dev_commands_are_answered_by_the_dev_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """`bff stubs --help` shows the dev CLI's own options: the command line is handed over."""
    with pytest.raises(SystemExit) as exit_info:
        main(["stubs", "--help"])
    assert exit_info.value.code == 0
    assert "--latency-ms" in capsys.readouterr().out


# --- production needs no development dependency -----------------------------------------------

DEV_ONLY = (
    "oidc_provider_mock",
    "uvicorn",
    "devstack",
    "pytest",
    "respx",
    "playwright",
    "flask",
    "werkzeug",
)
WITHOUT_DEV_DEPENDENCIES = """
import contextlib, importlib.abc, io, json, sys

DEV_ONLY = set(sys.argv[1].split(","))


class RefuseDevDependencies(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in DEV_ONLY:
            raise ModuleNotFoundError(f"No module named {name!r} (dev only)", name=name)
        return None


assert not DEV_ONLY & {name.partition(".")[0] for name in sys.modules}
sys.meta_path.insert(0, RefuseDevDependencies())

import bff_mobile.app
import bff_web.app
import shared.platform.cli

apps = [type(bff_web.app.create_app()).__name__, type(bff_mobile.app.create_app()).__name__]
results = {"apps": apps}
for command in (["config", "check", "web"], ["config", "check", "mobile"], ["dev"], ["idp"]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = shared.platform.cli.main(command)
    results[" ".join(command)] = {"code": code, "stderr": err.getvalue().splitlines()}
results["loaded"] = sorted(DEV_ONLY & {name.partition(".")[0] for name in sys.modules})

# A source checkout synced without the dev group: devstack is there, its dependencies are not.
DEV_ONLY.discard("devstack")
err = io.StringIO()
with contextlib.redirect_stderr(err):
    code = shared.platform.cli.main(["stubs", "--port", "1"])
results["stubs without uvicorn"] = {"code": code, "stderr": err.getvalue().splitlines()}
print(json.dumps(results))
"""


def test_production_code_needs_no_development_dependency() -> None:
    """Both gateways build and `config check` runs with every dev-only package refused; the
    dev commands then say, in one line, how to get them."""
    result = run_python("-c", WITHOUT_DEV_DEPENDENCIES, ",".join(DEV_ONLY))
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(result.stdout.strip().splitlines()[-1])
    assert results["apps"] == ["Litestar", "Litestar"]
    for gateway in ("web", "mobile"):
        assert results[f"config check {gateway}"]["code"] == 0
    for command in ("dev", "idp"):
        assert results[command]["code"] == 2
        assert results[command]["stderr"] == [
            f"bff: 'bff {command}' needs the development dependencies (no module 'devstack'); "
            "install them with 'make install'"
        ]
    assert results["loaded"] == []
    assert results["stubs without uvicorn"] == {
        "code": 2,
        "stderr": [
            "bff: 'bff stubs' needs the development dependencies (no module 'uvicorn'); "
            "install them with 'make install'"
        ],
    }
