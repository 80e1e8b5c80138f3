"""A stand-in OTLP/HTTP collector: accepts ``POST /v1/traces`` and ``POST /v1/metrics``, counts
them, keeps nothing.

The telemetry scenario exports to it so the gateway's exporter does its real work (batching,
protobuf encoding, one POST per batch) while nothing on this machine pays for storing spans.
The answer is an empty protobuf body, a valid export response for both signals. It runs in a
thread of the benchmark process, which is idle while wrk drives the load.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIGNALS = ("/v1/traces", "/v1/metrics")


class OtlpSink:
    """What the sink has received so far, by signal path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posts: Counter[str] = Counter()
        self.url = ""

    def record(self, path: str) -> None:
        with self._lock:
            self._posts[path] += 1

    def posts(self) -> dict[str, int]:
        with self._lock:
            return {path: self._posts[path] for path in SIGNALS}


def _handler_for(sink: OtlpSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the exporter's session expects

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path not in SIGNALS:
                self._answer(404)
                return
            sink.record(self.path)
            self._answer(200)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the run's table is the output, not one line per export."""

    return Handler


@contextmanager
def running_sink() -> Iterator[OtlpSink]:
    """The sink on a free loopback port for as long as the block runs."""
    sink = OtlpSink()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(sink))
    server.daemon_threads = True
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="otlp-sink", daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
