"""The ``bff`` command: one gateway for production, and the way into the dev stack.

bff serve web|mobile            one gateway (multi-worker ASGI server), settings from env;
                                ``--tls-cert F --tls-key F`` serves https without a proxy
bff config check web|mobile     validate the environment, print the effective settings
bff dev | stubs | idp           the development stack (``devstack.cli``; dev dependencies)

``serve`` and ``config check`` are production code and need nothing beyond the runtime
dependencies. The dev commands live in ``devstack``, which the production image leaves out with
its dependencies (the dev IdP, uvicorn): they are reached by module name, so no gateway process
ever imports them, and without them ``bff dev`` says in one line how to install them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from shared.platform.production_checks import refuse_unshared_workers
from shared.platform.settings import ConfigError, Gateway, Settings, load_settings

EXIT_CONFIG_ERROR = 2
EXIT_DEV_DEPENDENCIES_MISSING = 2
DEFAULT_PORTS: dict[Gateway, int] = {"web": 8000, "mobile": 8001}
DEV_COMMANDS = {
    "dev": "run IdP, core stubs and both gateways",
    "stubs": "run the stand-in core services",
    "idp": "run the development OpenID provider",
}
"""Run by ``devstack.cli``, which parses their options; listed here for ``bff --help``."""


def fail(message: str, code: int = EXIT_CONFIG_ERROR) -> int:
    print(f"bff: {message}", file=sys.stderr)
    return code


def port_is_free(host: str, port: int) -> bool:
    """Checked before starting a server, so a taken port is one clear line, not a traceback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _load(gateway: Gateway, workers: int | None = None) -> Settings | None:
    try:
        settings = load_settings(gateway)
        if workers is not None:
            refuse_unshared_workers(settings, workers)
    except ConfigError as exc:
        fail(f"configuration error: {exc}")
        return None
    return settings


# --- bff config check ------------------------------------------------------------------------


def cmd_config_check(args: argparse.Namespace) -> int:
    settings = _load(args.gateway)
    if settings is None:
        return EXIT_CONFIG_ERROR
    print(json.dumps(settings.redacted(), indent=2, default=list))
    print(f"bff: configuration for the {args.gateway} gateway is valid", file=sys.stderr)
    return 0


# --- bff serve --------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _load(args.gateway, args.workers)
    if settings is None:
        return EXIT_CONFIG_ERROR
    port = DEFAULT_PORTS[args.gateway] if args.port is None else args.port
    problem = tls_files_problem(args.tls_cert, args.tls_key)
    if problem:
        return fail(problem)
    if not port_is_free(args.host, port):
        return fail(f"port {port} on {args.host} is already in use", 1)
    serve_asgi(
        f"bff_{args.gateway}.app:create_app",
        host=args.host,
        port=port,
        workers=args.workers or settings.workers,
        shutdown_timeout_s=settings.shutdown_timeout_s,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    return 0


def tls_files_problem(cert: str | None, key: str | None, client_ca: str | None = None) -> str:
    """What is wrong with a server's ``--tls-*`` options, in one line ("" when nothing is)."""
    if (cert is None) != (key is None):
        return "--tls-cert and --tls-key go together"
    if client_ca is not None and cert is None:
        return "--tls-client-ca needs --tls-cert and --tls-key"
    for option, path in (("--tls-cert", cert), ("--tls-key", key), ("--tls-client-ca", client_ca)):
        if path is not None and not os.access(path, os.R_OK):
            return f"{option}: cannot read {path!r}"
    return ""


def serve_asgi(
    factory: str,
    *,
    host: str,
    port: int,
    workers: int,
    shutdown_timeout_s: int = 20,
    tls_cert: str | None = None,
    tls_key: str | None = None,
) -> None:
    """Serve ``module:create_app`` until stopped, as every gateway is served in production
    (and the benchmark's reference apps, so the server is never the difference).

    On SIGTERM granian closes the listening socket (new connections are refused), lets each
    worker finish the requests in flight, and kills a worker still busy after
    ``shutdown_timeout_s`` (``BFF_SHUTDOWN_TIMEOUT``): the drain.

    With ``tls_cert`` and ``tls_key`` (PEM) it serves https itself (granian's TLS 1.3 minimum),
    for direct exposure without a terminating proxy."""
    from granian import Granian  # only here: config check should not pay for loading it
    from granian.constants import Interfaces, Loops

    # granian was measured faster than uvicorn+uvloop+httptools here (docs/operations.md).
    Granian(
        factory,
        factory=True,
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        log_enabled=False,
        respawn_failed_workers=True,
        workers_kill_timeout=shutdown_timeout_s,
        ssl_cert=Path(tls_cert) if tls_cert is not None else None,
        ssl_key=Path(tls_key) if tls_key is not None else None,
    ).serve()


# --- bff dev / stubs / idp --------------------------------------------------------------------


def run_dev_command(argv: Sequence[str]) -> int:
    """Hand the whole command line to ``devstack.cli``, or say how to get it."""
    try:
        dev_cli = importlib.import_module("devstack.cli")
    except ModuleNotFoundError as exc:
        return fail(
            f"'bff {argv[0]}' needs the development dependencies (no module {exc.name!r}); "
            "install them with 'make install'",
            EXIT_DEV_DEPENDENCIES_MISSING,
        )
    return int(dev_cli.main(argv))


# --- argument parsing -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bff", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    # Listed only: main() passes their command lines to devstack.cli before parsing.
    commands.add_parser("dev", help=DEV_COMMANDS["dev"], add_help=False)

    serve = commands.add_parser("serve", help="run one gateway")
    serve.add_argument("gateway", choices=("web", "mobile"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None)
    serve.add_argument("--tls-cert", default=None, help="PEM certificate chain: serve https")
    serve.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    serve.set_defaults(handler=cmd_serve)

    for name in ("stubs", "idp"):
        commands.add_parser(name, help=DEV_COMMANDS[name], add_help=False)

    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate the environment")
    check.add_argument("gateway", choices=("web", "mobile"))
    check.set_defaults(handler=cmd_config_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in DEV_COMMANDS:
        return run_dev_command(arguments)
    args = build_parser().parse_args(arguments)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
