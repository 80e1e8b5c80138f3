"""The dev commands of `bff` (handed to ``devstack.cli``) over real processes and sockets."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.fixtures.servers import free_port
from tests.shared.platform.test_cli import BFF, ROOT, clean_env, run_bff


def _processes_mentioning(marker: str) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline and int(entry.name) != os.getpid():
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def _start_dev(ports: dict[str, int], *options: str) -> tuple[subprocess.Popen[str], str]:
    """`bff dev` on these ports, and its output up to the banner's last line."""
    process = subprocess.Popen(
        [
            *BFF,
            "dev",
            "--web-port",
            str(ports["web"]),
            "--mobile-port",
            str(ports["mobile"]),
            "--stubs-port",
            str(ports["stubs"]),
            "--idp-port",
            str(ports["idp"]),
            *options,
        ],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        output.append(line)
        if "Stop with Ctrl-C" in line:
            break
    return process, "".join(output)


def _stop_dev(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode == 0


def test_bff_dev_starts_everything_and_leaves_nothing_behind_on_sigterm() -> None:
    """`bff dev` brings up IdP, stubs and both gateways; SIGTERM stops every child."""
    ports = {name: free_port() for name in ("web", "mobile", "stubs", "idp")}
    process, banner = _start_dev(ports)
    try:
        assert "The BFF dev stack is up" in banner, banner[-3000:]
        assert "alice" in banner
        assert "'support' has the support role" in banner
        assert "/api/remote/echo/" in banner
        children = _processes_mentioning(f"--port {ports['web']}") | _processes_mentioning(
            f"--port {ports['idp']}"
        )
        children |= _processes_mentioning(f"--port {ports['stubs']}")
        children |= _processes_mentioning(f"--port {ports['mobile']}")
        assert len(children) >= 4

        with httpx.Client(timeout=5) as client:
            for gateway in ("web", "mobile"):
                ready = client.get(f"http://127.0.0.1:{ports[gateway]}/health/ready")
                assert ready.status_code == 200, ready.text
            discovery = client.get(
                f"http://127.0.0.1:{ports['idp']}/.well-known/openid-configuration"
            ).json()
            assert discovery["issuer"] == f"http://127.0.0.1:{ports['idp']}"
            stubs = client.get(f"http://127.0.0.1:{ports['stubs']}/health")
            assert stubs.status_code == 200
            # Each gateway declares the echo remote API: signed out it is a 401, not a 404.
            web_remote = client.get(
                f"http://127.0.0.1:{ports['web']}/api/remote/echo/x", headers={"X-CSRF": "1"}
            )
            mobile_remote = client.get(
                f"http://127.0.0.1:{ports['mobile']}/m/v1/remote/echo/x",
                headers={"X-App-Version": "1.0.0"},
            )
            assert (web_remote.status_code, mobile_remote.status_code) == (401, 401)
    finally:
        _stop_dev(process)
    time.sleep(0.5)
    assert [pid for pid in children if _alive(pid)] == []


def test_bff_dev_fapi_runs_the_fapi_client_profile_end_to_end() -> None:
    """`bff dev --fapi`: the IdP requires pushed requests and DPoP and knows the gateways by
    their published keys; a browser login and a screen work, and the stubs saw DPoP proofs."""
    ports = {name: free_port() for name in ("web", "mobile", "stubs", "idp")}
    process, banner = _start_dev(ports, "--fapi")
    web = f"http://127.0.0.1:{ports['web']}"
    try:
        assert "FAPI 2.0" in banner, banner[-3000:]
        with httpx.Client(timeout=20, headers={"X-CSRF": "1"}) as browser:
            start = browser.get(f"{web}/bff/login")
            assert start.status_code == 302, start.text
            query = parse_qs(urlsplit(start.headers["location"]).query)
            assert set(query) == {"client_id", "request_uri"}  # the request was pushed
            consent = browser.post(start.headers["location"], data={"sub": "alice"})
            assert browser.get(consent.headers["location"]).status_code == 302
            assert browser.get(f"{web}/api/home").status_code == 200
        stats = httpx.get(f"http://127.0.0.1:{ports['stubs']}/_stats").json()
        assert len(set(stats["lastDpopJkt"].values())) == 1  # one session key, every service
        assert stats["dpopRefusals"] == 0
    finally:
        _stop_dev(process)


def test_bff_dev_reports_a_taken_port_by_name() -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        result = run_bff(
            "dev",
            "--web-port",
            str(taken),
            "--mobile-port",
            str(free_port()),
            "--stubs-port",
            str(free_port()),
            "--idp-port",
            str(free_port()),
        )
    assert result.returncode == 1
    assert f"port {taken} (web BFF) is already in use" in result.stderr
    assert "Traceback" not in result.stderr
