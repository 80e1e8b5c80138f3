"""``bff serve … --tls-cert F --tls-key F``: a gateway serving https itself, over a real process."""

from __future__ import annotations

import ssl

import httpx
import pytest

from tests.fixtures.servers import first_status, free_port, running_command
from tests.fixtures.tls import Pki
from tests.shared.platform.test_cli import BFF, ROOT, clean_env, run_bff


def test_serve_with_tls_files_answers_https_only_verified_by_the_ca(pki: Pki) -> None:
    port = free_port()
    tls = ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)]
    trust = ssl.create_default_context(cafile=str(pki.ca))
    command = [*BFF, "serve", "web", "--port", str(port), *tls]
    with running_command(command, cwd=ROOT, env=clean_env(BFF_LOG_FORMAT="json")) as process:
        assert first_status(f"https://127.0.0.1:{port}/health/live", process, verify=trust) == 200
        with pytest.raises(httpx.HTTPError):  # no plaintext on the TLS port
            httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=5)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{port}/health/live", verify=ssl.create_default_context())


def test_serve_with_half_the_tls_options_is_one_line_and_exit_2(pki: Pki) -> None:
    for options in (
        ["--tls-cert", str(pki.server_cert)],
        ["--tls-cert", str(pki.server_cert), "--tls-key", "/nonexistent/key.pem"],
    ):
        result = run_bff("serve", "web", "--port", str(free_port()), *options)
        assert result.returncode == 2
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("bff: --tls-")
