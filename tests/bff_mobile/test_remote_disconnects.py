"""A caller that goes away mid-call, over real HTTP through the mobile gateway: mid-upload it
is a quiet 499 in the access log (no 500, no stack trace); mid-download the upstream's
connection is closed. Bounded polls wait for what the gateway's thread does after the caller
left; nothing waits for time to pass."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from tests.bff_mobile.test_auth_flow import APP_VERSION, log_in_app
from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IdpServer
from tests.shared.remote.support import remote_apis_file, reset_echo

BOUND_S = 10.0
"""How long a poll may wait for the gateway's thread; it is done long before."""


def wait_for(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until true, failing past ``BOUND_S``."""
    end = time.monotonic() + BOUND_S
    while not condition():
        assert time.monotonic() < end, "the gateway did not get there"
        time.sleep(0.01)


class EndlessUpstream:
    """An upstream on a real socket that answers every request with a body longer than anyone
    reads, chunk by chunk, until its connection is closed from the other side; it counts those
    closes. A gateway that kept the connection would leave it blocked on a full socket."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        self.closed_by_peer = 0

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # the listener was closed: the test is over
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        connection.settimeout(BOUND_S)
        with connection:
            received = b""
            while b"\r\n\r\n" not in received:
                received += connection.recv(1 << 16)
            head = b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
            connection.sendall(head + b"content-length: 1073741824\r\n\r\n")
            try:
                while True:
                    connection.sendall(bytes(1 << 16))
            except TimeoutError:  # blocked: nobody reads and nobody closed
                return
            except OSError:  # reset or broken pipe: the gateway closed the connection
                self.closed_by_peer += 1


@pytest.fixture
def endless_upstream() -> Iterator[EndlessUpstream]:
    upstream = EndlessUpstream()
    threading.Thread(target=upstream.serve, daemon=True).start()
    yield upstream
    upstream.listener.close()


@pytest.fixture
def mobile(
    start_gateway: StartGateway,
    idp: IdpServer,
    core_stubs: str,
    redis_url: str,
    tmp_path: Path,
    endless_upstream: EndlessUpstream,
) -> RunningGateway:
    reset_echo(core_stubs)
    apis = remote_apis_file(
        tmp_path,
        {"path": "/m/v1/remote/echo", "upstream": f"{core_stubs}/echo"},
        {"path": "/m/v1/remote/endless", "upstream": endless_upstream.url},
    )
    return start_gateway(
        "mobile",
        idp_url=idp.url,
        stubs_url=core_stubs,
        redis_url=redis_url,
        BFF_REMOTE_APIS_FILE=apis,
    )


def request_head(gateway: RunningGateway, method: str, path: str, **headers: str) -> bytes:
    access_token = str(log_in_app(gateway.url)["access_token"])
    host = gateway.url.removeprefix("http://")
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        f"Authorization: Bearer {access_token}",
        *(f"{name}: {value}" for name, value in {**APP_VERSION, **headers}.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def test_a_caller_gone_mid_upload_is_a_quiet_499_not_a_500(mobile: RunningGateway) -> None:
    host, port = mobile.url.removeprefix("http://").split(":")
    head = request_head(
        mobile, "POST", "/m/v1/remote/echo/upload", **{"Transfer-Encoding": "chunked"}
    )
    with structlog.testing.capture_logs() as logs:
        with socket.create_connection((host, int(port))) as caller:
            caller.sendall(head + b"10000\r\n" + bytes(0x10000) + b"\r\n")
        wait_for(lambda: any(line["event"] == "request" for line in list(logs)))
    (access,) = [line for line in logs if line["event"] == "request"]
    assert access["status"] == 499
    assert [line["event"] for line in logs if line["event"].startswith("remote_")] == [
        "remote_api_caller_gone"
    ]
    assert all(line["log_level"] in {"debug", "info"} for line in logs), logs
    assert all("exc_info" not in line for line in logs)


def test_a_caller_gone_mid_download_closes_the_upstream_connection(
    mobile: RunningGateway, endless_upstream: EndlessUpstream
) -> None:
    host, port = mobile.url.removeprefix("http://").split(":")
    head = request_head(mobile, "GET", "/m/v1/remote/endless/blob")
    with socket.create_connection((host, int(port))) as caller:
        caller.sendall(head)
        first = caller.recv(1 << 16)
        assert first.startswith(b"HTTP/1.1 200"), first + caller.recv(1 << 16)
        caller.recv(1 << 16)  # a little of the body, then the caller goes
    wait_for(lambda: endless_upstream.closed_by_peer == 1)
    assert endless_upstream.connections == 1
