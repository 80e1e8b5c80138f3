"""``python -m devstack.idp``: the command-line options and the server process."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

import werkzeug.serving

from devstack.idp.app import TEST_USER, create_idp_app
from devstack.idp.dpop import DpopOptions


def _client_uri_pair(value: str) -> tuple[str, str]:
    client_id, sep, uri = value.partition("=")
    if not sep or not client_id or not uri.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected CLIENT_ID=http(s)://URI, got {value!r}")
    return client_id, uri


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {value}")
    return number


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.idp", description="The development OpenID provider."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9400)
    parser.add_argument(
        "--token-max-age",
        type=_positive_int,
        default=300,
        help="lifetime of access and ID tokens in seconds (default 300)",
    )
    parser.add_argument(
        "--backchannel-logout-uri",
        type=_client_uri_pair,
        action="append",
        default=[],
        metavar="CLIENT_ID=URI",
        help="where to POST logout tokens for a client (repeatable)",
    )
    parser.add_argument(
        "--client-jwks-uri",
        type=_client_uri_pair,
        action="append",
        default=[],
        metavar="CLIENT_ID=URI",
        help="register a client that authenticates with private_key_jwt, keys at URI (repeatable)",
    )
    parser.add_argument(
        "--par",
        action="store_true",
        help="advertise the pushed authorization request endpoint (RFC 9126) in discovery",
    )
    parser.add_argument(
        "--require-par",
        action="store_true",
        help="accept authorization requests only as pushed requests (RFC 9126)",
    )
    parser.add_argument(
        "--dpop",
        action="store_true",
        help="DPoP (RFC 9449): a token request with a proof gets tokens bound to its key",
    )
    parser.add_argument(
        "--require-dpop",
        action="store_true",
        help="DPoP, and every token request must carry a proof",
    )
    parser.add_argument(
        "--dpop-nonce",
        action="store_true",
        help="DPoP, and every proof must carry the server's nonce (use_dpop_nonce)",
    )
    parser.add_argument("--tls-cert", default=None, help="PEM certificate chain: serve https")
    parser.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    return args


def _dpop_options(args: argparse.Namespace) -> DpopOptions | None:
    if not (args.dpop or args.require_dpop or args.dpop_nonce):
        return None
    return DpopOptions(required=args.require_dpop, nonce=args.dpop_nonce)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the dev IdP until SIGTERM or SIGINT; prints one line once it accepts connections.

    The server is werkzeug's threaded one, as in the mock's own test helper: the mock is a WSGI
    app, and uvicorn's WSGI mode (the mock's command line) is deprecated by uvicorn. Call this
    from the main thread (it installs signal handlers).
    """
    args = _parse_args(argv)
    # Dev only: allow plain http on any host, as the mock's own command line does.
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    app = create_idp_app(
        access_token_ttl=args.token_max_age,
        backchannel_logout_uris=dict(args.backchannel_logout_uri),
        client_keys=dict(args.client_jwks_uri),
        par=args.par,
        require_par=args.require_par,
        dpop=_dpop_options(args),
    )
    # werkzeug reports a port in use or an unknown host itself, and exits with status 1.
    tls = (args.tls_cert, args.tls_key) if args.tls_cert is not None else None
    server = werkzeug.serving.make_server(args.host, args.port, app, threaded=True, ssl_context=tls)
    scheme = "https" if tls is not None else "http"

    def stop(signum: int, _frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever(), which runs on this thread: ask from another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    print(
        f"dev IdP ready at {scheme}://{args.host}:{server.server_port} "
        f"(issuer = the origin you call it by; test user: {TEST_USER['sub']})",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
