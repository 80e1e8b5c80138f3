"""Serve a reference app (``bench.ceiling``, ``bench.naive_bff``) the way ``bff serve`` serves a
gateway, so the server is not a difference between them:

    python -m bench.serve bench.ceiling:create_app --port P

The options are those of ``shared.platform.cli.cmd_serve`` (granian, ASGI, one worker, uvloop,
no access log); that function builds its server inline, so they are repeated here, and a
change there belongs here too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("target", help="module:factory of a Litestar app")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    from granian import Granian
    from granian.constants import Interfaces, Loops

    Granian(
        args.target,
        factory=True,
        address="127.0.0.1",
        port=args.port,
        workers=1,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        log_enabled=False,
        respawn_failed_workers=True,
        workers_kill_timeout=10,
    ).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
