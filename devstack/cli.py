"""The development commands of ``bff`` (``shared.platform.cli`` hands them over by name).

bff dev [--fapi]                IdP + core stubs + both gateways, until Ctrl-C / SIGTERM;
                                ``--fapi``: the FAPI 2.0 client profile end to end (PAR,
                                private_key_jwt with a key made for the run, DPoP)
bff stubs [--latency-ms N]      the stand-in core services alone; ``--tls-cert F --tls-key F``
                                serves https, ``--tls-client-ca F`` also requires a client
                                certificate issued by that CA (mutual TLS)
bff idp [--tls-cert F --tls-key F]  the development OpenID provider alone (https with TLS files)

Their dependencies (uvicorn, the dev IdP's ``oidc-provider-mock``) are imported here, at the
top: without them this module does not import, and ``bff`` reports that in one line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from devstack import idp
from devstack.core_stubs import create_stubs_app
from shared.platform.cli import DEV_COMMANDS, fail, port_is_free, tls_files_problem
from shared.platform.remote_api_settings import REMOTE_PREFIXES
from shared.platform.settings import Gateway

DEV_TEST_USER = "alice"
DEV_SUPPORT_USER = "support"
DEV_MOBILE_REDIRECT_URIS = "com.example.shop:/oauth/callback,http://127.0.0.1:8765/callback"
_STARTUP_TIMEOUT_S = 60.0


# --- bff stubs / bff idp ----------------------------------------------------------------------


def stubs_tls_options(
    cert: str | None, key: str | None, client_ca: str | None = None
) -> dict[str, Any]:
    """uvicorn's options for serving the stubs over TLS; with ``client_ca`` a client
    certificate issued by it is required (mutual TLS). Empty without ``cert``: plain http."""
    if cert is None:
        return {}
    options: dict[str, Any] = {"ssl_certfile": cert, "ssl_keyfile": key}
    if client_ca is not None:
        options |= {"ssl_ca_certs": client_ca, "ssl_cert_reqs": ssl.CERT_REQUIRED}
    return options


def cmd_stubs(args: argparse.Namespace) -> int:
    problem = tls_files_problem(args.tls_cert, args.tls_key, args.tls_client_ca)
    if problem:
        return fail(problem)
    if not port_is_free(args.host, args.port):
        return fail(f"port {args.port} on {args.host} is already in use (core stubs)", 1)
    app = create_stubs_app(seed=args.seed, latency_ms=args.latency_ms)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        **stubs_tls_options(args.tls_cert, args.tls_key, args.tls_client_ca),
    )
    return 0


def cmd_idp(args: argparse.Namespace) -> int:
    problem = tls_files_problem(args.tls_cert, args.tls_key)
    if problem:
        return fail(problem)
    if not port_is_free(args.host, args.port):
        return fail(f"port {args.port} on {args.host} is already in use (dev IdP)", 1)
    argv = ["--host", args.host, "--port", str(args.port)]
    argv += ["--token-max-age", str(args.token_max_age)]
    for uri in args.backchannel_logout_uri:
        argv += ["--backchannel-logout-uri", uri]
    if args.tls_cert is not None:
        argv += ["--tls-cert", args.tls_cert, "--tls-key", args.tls_key]
    return int(idp.main(argv))


# --- bff dev ----------------------------------------------------------------------------------


@dataclass
class _Child:
    name: str
    url: str
    ready_path: str
    process: subprocess.Popen[bytes] | None = None


class _DevStack:
    """Starts the four processes in order, waits until each is ready, and always cleans up."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        host = "127.0.0.1"
        self.idp = _Child(
            "dev IdP", f"http://{host}:{args.idp_port}", "/.well-known/openid-configuration"
        )
        self.stubs = _Child("core stubs", f"http://{host}:{args.stubs_port}", "/health")
        self.web = _Child("web BFF", f"http://{host}:{args.web_port}", "/health/ready")
        self.mobile = _Child("mobile BFF", f"http://{host}:{args.mobile_port}", "/health/ready")
        self.children = [self.idp, self.stubs, self.web, self.mobile]
        self.stopping = False
        self.config_dir = Path(tempfile.mkdtemp(prefix="bff-dev-"))

    def client_key_file(self, gateway: Gateway) -> str:
        """``--fapi``: an EC P-256 key made for this run, the gateway's ``private_key_jwt`` key
        (the IdP reads its public half from the gateway's ``/.well-known/jwks.json``)."""
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        path = self.config_dir / f"client-key-{gateway}.pem"
        path.write_bytes(pem)
        path.chmod(0o600)
        return str(path)

    def fapi_env(self, gateway: Gateway) -> dict[str, str]:
        """The gateway as a FAPI 2.0 client: pushed requests, its own key, DPoP-bound tokens."""
        return {
            "BFF_OIDC_CLIENT_AUTH": "private_key_jwt",
            "BFF_OIDC_CLIENT_KEY_FILE": self.client_key_file(gateway),
            "BFF_OIDC_PAR": "always",
            "BFF_OIDC_DPOP": "true",
        }

    def remote_apis_file(self, gateway: Gateway) -> str:
        """One remote API per gateway, ``<prefix>echo``, forwarding to the stubs' echo upstream
        with the user's token: ``make run`` shows the feature working end to end."""
        path = self.config_dir / f"remote-apis-{gateway}.toml"
        path.write_text(
            "[[api]]\n"
            f'path = "{REMOTE_PREFIXES[gateway]}echo"\n'
            f'upstream = "{self.stubs.url}/echo"\n'
            'token = "user"\n'
            'forward_headers = ["accept-language"]\n',
            encoding="utf-8",
        )
        return str(path)

    def gateway_env(self, gateway: Gateway, port: int) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("BFF_LOG_FORMAT", "console")
        env.update(
            {
                "BFF_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "BFF_OIDC_ISSUER": self.idp.url,
                "BFF_OIDC_CLIENT_ID": f"bff-{gateway}",
                "BFF_ALLOWED_ORIGINS": f"http://127.0.0.1:{port},http://localhost:{port}",
            }
        )
        env.setdefault("BFF_MOBILE_REDIRECT_URIS", DEV_MOBILE_REDIRECT_URIS)
        env.setdefault("BFF_REMOTE_APIS_FILE", self.remote_apis_file(gateway))
        if self.args.fapi:
            env.update(self.fapi_env(gateway))
        for service in ("accounts", "catalog", "orders", "recommendations"):
            env[f"BFF_CORE_{service.upper()}_URL"] = f"{self.stubs.url}/{service}"
        return env

    def commands(self) -> list[tuple[_Child, list[str], dict[str, str]]]:
        python = [sys.executable, "-m", "devstack.cli"]
        gateway = [sys.executable, "-m", "shared.platform.cli", "serve"]
        args = self.args
        return [
            (self.idp, self.idp_command(), dict(os.environ)),
            (self.stubs, [*python, "stubs", "--port", str(args.stubs_port)], dict(os.environ)),
            (
                self.web,
                [*gateway, "web", "--port", str(args.web_port), "--workers", "1"],
                self.gateway_env("web", args.web_port),
            ),
            (
                self.mobile,
                [*gateway, "mobile", "--port", str(args.mobile_port), "--workers", "1"],
                self.gateway_env("mobile", args.mobile_port),
            ),
        ]

    def idp_command(self) -> list[str]:
        command = [sys.executable, "-m", "devstack.idp", "--port", str(self.args.idp_port)]
        command += ["--token-max-age", str(self.args.token_max_age)]
        command += ["--backchannel-logout-uri", f"bff-web={self.web.url}/bff/backchannel-logout"]
        command += [
            "--backchannel-logout-uri",
            f"bff-mobile={self.mobile.url}/auth/backchannel-logout",
        ]
        if self.args.fapi:
            command += ["--par", "--require-par", "--require-dpop"]
            for name, child in (("web", self.web), ("mobile", self.mobile)):
                command += ["--client-jwks-uri", f"bff-{name}={child.url}/.well-known/jwks.json"]
        return command

    def check_ports(self) -> str | None:
        for child in self.children:
            port = int(child.url.rsplit(":", 1)[1])
            if not port_is_free("127.0.0.1", port):
                return (
                    f"port {port} ({child.name}) is already in use; stop whatever listens there "
                    f"or pick another port with the matching --*-port option"
                )
        return None

    def start(self) -> str | None:
        for child, command, env in self.commands():
            if self.stopping:
                return "interrupted"
            child.process = subprocess.Popen(command, env=env, start_new_session=True)
            problem = self.wait_ready(child)
            if problem:
                return problem
        return None

    def wait_ready(self, child: _Child) -> str | None:
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        assert child.process is not None
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline and not self.stopping:
                if child.process.poll() is not None:
                    return f"{child.name} exited during start-up (code {child.process.returncode})"
                try:
                    if client.get(child.url + child.ready_path).status_code == 200:
                        return None
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        return "interrupted" if self.stopping else f"{child.name} was not ready in time"

    def stop(self) -> None:
        self.stopping = True
        running = [c.process for c in reversed(self.children) if c.process is not None]
        for process in running:
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(5)
        shutil.rmtree(self.config_dir, ignore_errors=True)

    def banner(self) -> str:
        return "\n".join(
            [
                "",
                "The BFF dev stack is up:",
                f"  web BFF      {self.web.url}/        (demo SPA; API /api, auth /bff)",
                f"  mobile BFF   {self.mobile.url}/m/v1/   (token handler under /auth)",
                f"  core stubs   {self.stubs.url}/_stats  (fault injection: PUT /_chaos/<service>)",
                f"  dev IdP      {self.idp.url}/.well-known/openid-configuration",
                f"  remote API   {self.web.url}/api/remote/echo/... and "
                f"{self.mobile.url}/m/v1/remote/echo/... -> {self.stubs.url}/echo/...",
                *(
                    [
                        "  FAPI 2.0     pushed authorization requests, private_key_jwt (keys at "
                        "each gateway's /.well-known/jwks.json), DPoP-bound IdP tokens"
                    ]
                    if self.args.fapi
                    else []
                ),
                "",
                f"Try it: open {self.web.url}/ and sign in as '{DEV_TEST_USER}' "
                f"(any subject works) at the IdP's form; '{DEV_SUPPORT_USER}' has the support "
                "role (/api/admin/users/<sub>/sessions).",
                "Stop with Ctrl-C.",
                "",
            ]
        )


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def cmd_dev(args: argparse.Namespace) -> int:
    stack = _DevStack(args)
    problem = stack.check_ports()
    if problem:
        return fail(problem, 1)

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stack.stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        problem = stack.start()
        if problem and problem != "interrupted":
            return fail(problem, 1)
        if not stack.stopping:
            print(stack.banner(), flush=True)
        while not stack.stopping:
            for child in stack.children:
                if child.process is not None and child.process.poll() is not None:
                    print(f"bff: {child.name} stopped unexpectedly; stopping all", file=sys.stderr)
                    stack.stopping = True
            time.sleep(0.2)
        return 0
    finally:
        stack.stop()
        print("bff: dev stack stopped", file=sys.stderr, flush=True)


# --- argument parsing -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bff", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help=DEV_COMMANDS["dev"])
    dev.add_argument("--web-port", type=int, default=8000)
    dev.add_argument("--mobile-port", type=int, default=8001)
    dev.add_argument("--stubs-port", type=int, default=8100)
    dev.add_argument("--idp-port", type=int, default=9400)
    dev.add_argument("--token-max-age", type=int, default=300, help="IdP access-token lifetime (s)")
    dev.add_argument(
        "--fapi",
        action="store_true",
        help="the FAPI 2.0 client profile: PAR, private_key_jwt, DPoP (the IdP requires them)",
    )
    dev.set_defaults(handler=cmd_dev)

    stubs = commands.add_parser("stubs", help=DEV_COMMANDS["stubs"])
    stubs.add_argument("--host", default="127.0.0.1")
    stubs.add_argument("--port", type=int, default=8100)
    stubs.add_argument("--latency-ms", type=int, default=0)
    stubs.add_argument("--seed", type=int, default=42)
    stubs.add_argument("--tls-cert", default=None, help="PEM certificate chain: serve https")
    stubs.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    stubs.add_argument(
        "--tls-client-ca", default=None, help="PEM CA: require client certificates it issued"
    )
    stubs.set_defaults(handler=cmd_stubs)

    idp_command = commands.add_parser("idp", help=DEV_COMMANDS["idp"])
    idp_command.add_argument("--host", default="127.0.0.1")
    idp_command.add_argument("--port", type=int, default=9400)
    idp_command.add_argument("--token-max-age", type=int, default=300)
    idp_command.add_argument("--backchannel-logout-uri", action="append", default=[])
    idp_command.add_argument("--tls-cert", default=None, help="PEM certificate chain: serve https")
    idp_command.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    idp_command.set_defaults(handler=cmd_idp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
