"""Serve a reference app (``bench.ceiling``, ``bench.naive_bff``) the way ``bff serve`` serves a
gateway, so the server is not a difference between them:

    python -m bench.serve bench.ceiling:create_app --port P

The server is ``shared.platform.cli.serve_asgi``, the one ``bff serve`` runs, with one worker.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from shared.platform.cli import serve_asgi


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("target", help="module:factory of a Litestar app")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    serve_asgi(args.target, host="127.0.0.1", port=args.port, workers=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
