"""SIGTERM under load, for each gateway as production runs it (`bff serve`, granian): the
requests in flight finish with 200, new connections are refused at once, and the process exits
0 within the drain timeout (`BFF_SHUTDOWN_TIMEOUT`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from shared.platform.settings import Gateway
from tests.e2e.faults_support import CSRF, AppUser, WebUser, eventually
from tests.fixtures.gateways import gateway_environ
from tests.fixtures.idp import IdpServer
from tests.fixtures.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
IN_FLIGHT = 20
SLOW_CATALOG_MS = 1500
DRAIN_TIMEOUT_S = 10


def serve(gateway: Gateway, environ: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BFF_", "OTEL_"))}
    env |= environ
    port = environ["BFF_PUBLIC_URL"].rsplit(":", 1)[1]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "shared.platform.cli", "serve", gateway, "--port", port],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def catalog_calls(stubs: str) -> int:
    calls: dict[str, int] = httpx.get(f"{stubs}/_stats").json()["calls"]
    return calls.get("catalog GET /v1/products/{id}", 0)


@pytest.mark.parametrize("gateway", ["web", "mobile"])
def test_sigterm_drains_in_flight_requests_refuses_new_ones_and_exits_0(
    gateway: Gateway, idp: IdpServer, core_stubs: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    environ = gateway_environ(
        gateway,
        port,
        idp_url=idp.url,
        stubs_url=core_stubs,
        redis_url=redis_url,
        BFF_SHUTDOWN_TIMEOUT=str(DRAIN_TIMEOUT_S),
    )
    url = f"http://127.0.0.1:{port}"
    process = serve(gateway, environ, tmp_path / "serve.log")
    try:

        def live() -> bool:
            try:
                return httpx.get(f"{url}/health/live", timeout=2).status_code == 200
            except httpx.TransportError:
                return process.poll() is not None

        eventually(live, within_s=60, what="bff serve is up")
        assert process.poll() is None, (tmp_path / "serve.log").read_text()

        if gateway == "web":
            user = WebUser("drain-web").log_in(url)
            cookies = dict(user.client.cookies)
            user.close()

            def slow(n: int) -> int:
                return httpx.get(
                    f"{url}/api/products/{200 + n}", headers=CSRF, cookies=cookies, timeout=30
                ).status_code
        else:
            app = AppUser("drain-app").log_in(url)

            def slow(n: int) -> int:
                return httpx.get(
                    f"{url}/m/v1/products/{200 + n}", headers=app.headers, timeout=30
                ).status_code

        httpx.delete(f"{core_stubs}/_stats").raise_for_status()
        httpx.put(
            f"{core_stubs}/_chaos/catalog", json={"latencyMs": SLOW_CATALOG_MS}
        ).raise_for_status()
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            answers = pool.map(slow, range(IN_FLIGHT))
            eventually(lambda: catalog_calls(core_stubs) >= IN_FLIGHT, what="all in flight")
            process.send_signal(signal.SIGTERM)

            def refused() -> bool:
                try:
                    httpx.get(f"{url}/health/live", timeout=2)
                except httpx.ConnectError:
                    return True
                except httpx.TransportError:
                    return False
                return False

            eventually(refused, within_s=DRAIN_TIMEOUT_S, what="new connections refused")
            assert process.poll() is None, "refused only once the process had exited"
            statuses = list(answers)
        assert statuses == [200] * IN_FLIGHT
        assert process.wait(DRAIN_TIMEOUT_S + 5) == 0, (tmp_path / "serve.log").read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
