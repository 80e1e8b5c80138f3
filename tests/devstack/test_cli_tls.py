"""``bff stubs --tls-cert F --tls-key F --tls-client-ca F``: the stubs over mutual TLS, as a real
process: a client certificate from that CA gets answers, none gets nothing."""

from __future__ import annotations

import ssl
import sys

import httpx
import pytest

from tests.fixtures.servers import first_status, free_port, running_command
from tests.fixtures.tls import Pki
from tests.shared.platform.test_cli import run_python

STUBS = [sys.executable, "-m", "devstack.cli", "stubs"]


def test_stubs_with_a_client_ca_require_a_client_certificate(pki: Pki) -> None:
    port = free_port()
    tls = ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)]
    with_cert = ssl.create_default_context(cafile=str(pki.ca))
    with_cert.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    without_cert = ssl.create_default_context(cafile=str(pki.ca))
    command = [*STUBS, "--port", str(port), *tls, "--tls-client-ca", str(pki.ca)]
    with running_command(command) as process:
        url = f"https://127.0.0.1:{port}/health"
        assert first_status(url, process, verify=with_cert) == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(url, verify=without_cert, timeout=5)


def test_a_client_ca_without_a_server_certificate_is_one_line_and_exit_2(pki: Pki) -> None:
    result = run_python(*STUBS[1:], "--port", str(free_port()), "--tls-client-ca", str(pki.ca))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "bff: --tls-client-ca needs --tls-cert and --tls-key"
    ]
