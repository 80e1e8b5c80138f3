"""Everything a benchmark run starts, by name, each its own process on a free loopback port.

    redis       a private redis-server (sessions and the shared cache of every gateway)
    idp         the dev IdP                        python -m shared.platform.cli idp
    stubs       the core stubs, 0 ms               python -m shared.platform.cli stubs
    stubs_slow  the core stubs, --latency-ms 20
    web, mobile, web_cold, web_cold_b, web_telemetry_on, web_telemetry_off,
    web_api_limit_on, web_api_limit_off
                one gateway worker each            python -m shared.platform.cli serve ...
    naive       the naive BFF (bench.naive_bff)    python -m bench.serve ...
    ceiling     the bare Litestar app (bench.ceiling), started last with the bytes it serves

``start`` brings up what the chosen scenarios need, dependencies first and each layer in
parallel. The gateways get the production defaults (Prometheus metrics on, no trace exporter,
JSON logs at info: one access line a request; rate limits on, at rates no scenario reaches, so
their cost is in every number) unless their entry below says otherwise, and none
inherits ``BFF_*`` or ``OTEL_*`` from the shell, so a run measures the same configuration on any
machine. Sessions are in Redis for every gateway, as in production.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import redis

from bench.ceiling import BODY_FILE_VARIABLE
from bench.naive_bff import STUBS_URL_VARIABLE
from bench.otlp_sink import OtlpSink
from bench.processes import (
    Child,
    StartError,
    free_port,
    http_ok,
    spawn,
    stop_all,
    wait_until_ready,
)

PYTHON = sys.executable
BFF = [PYTHON, "-m", "shared.platform.cli"]
SECRET_KEY = "Bq4Wn8Zr2Tx6Vm0Lp3Hs7Dk1Fg5Jc9Ya"  # benchmark-only, as every key in this run
IDP_TOKEN_MAX_AGE_S = 3600  # no IdP refresh lands inside a measurement
SLOW_STUBS_LATENCY_MS = 20
CORE_SERVICES = ("accounts", "catalog", "orders", "recommendations")
SINK = "<otlp sink>"
"""Stands for the sink's URL in a gateway's environment until the sink is running."""


@dataclass(frozen=True)
class GatewaySpec:
    gateway: str
    stubs: str
    env: Mapping[str, str] = field(default_factory=dict)


GATEWAYS = {
    "web": GatewaySpec("web", "stubs"),
    "mobile": GatewaySpec("mobile", "stubs"),
    "web_cold": GatewaySpec("web", "stubs_slow"),
    "web_cold_b": GatewaySpec("web", "stubs_slow"),
    "web_telemetry_on": GatewaySpec(
        "web",
        "stubs",
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": SINK},
    ),
    "web_telemetry_off": GatewaySpec(
        "web", "stubs", {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}
    ),
    "web_api_limit_on": GatewaySpec("web", "stubs"),
    "web_api_limit_off": GatewaySpec("web", "stubs", {"BFF_RATE_LIMIT_API": "off"}),
}
UNREACHED_RATE = "10000000/minute"
"""Every request is counted, none refused: one session drives each load."""
SOAK_ENV = {
    # Short lives, so a soak run sees its sessions and cache entries expire (bench.soak).
    "BFF_SESSION_IDLE_TIMEOUT": "60",
    "BFF_SESSION_ABSOLUTE_TIMEOUT": "120",
    "BFF_CACHE_PRODUCT_TTL": "5",
    "BFF_CACHE_PRODUCT_STALE": "30",
}
GATEWAYS["soak_web"] = GatewaySpec("web", "stubs", SOAK_ENV)
GATEWAYS["soak_mobile"] = GatewaySpec("mobile", "stubs", SOAK_ENV)
BASE = ("redis", "idp", "stubs", "stubs_slow")


def clean_environ() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BFF_", "OTEL_", "BENCH_"))
    }


def needs(names: Collection[str]) -> set[str]:
    """The names with what they depend on."""
    wanted = set(names)
    for name in names:
        if name in GATEWAYS:
            wanted |= {"redis", "idp", GATEWAYS[name].stubs}
        elif name == "naive":
            wanted.add("stubs")
    return wanted


class BenchStack:
    """The running children by name; leaving the ``with`` block stops them all, last first."""

    def __init__(self, log_dir: Path, sink: OtlpSink | None = None) -> None:
        self.log_dir = log_dir
        self.sink = sink
        self.urls: dict[str, str] = {}
        self._children: list[Child] = []
        self._scratch = Path(tempfile.mkdtemp(prefix="bff-bench-"))

    def __enter__(self) -> BenchStack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stop_all(self._children[::-1])
        shutil.rmtree(self._scratch, ignore_errors=True)

    def url(self, name: str) -> str:
        return self.urls[name]

    def child(self, name: str) -> Child:
        """The running process started as ``name`` (the soak measures the gateways' memory)."""
        return next(child for child in self._children if child.name == name)

    @property
    def redis_url(self) -> str:
        return self.urls["redis"]

    def start(self, names: Collection[str]) -> None:
        wanted = needs(names) - set(self.urls)
        self._start_layer([name for name in BASE if name in wanted])
        self._start_layer(sorted(wanted - set(BASE)))

    def start_ceiling(self, body: bytes) -> str:
        body_file = self._scratch / "ceiling-body"
        body_file.write_bytes(body)
        self._start_layer(["ceiling"], {BODY_FILE_VARIABLE: str(body_file)})
        return self.urls["ceiling"]

    def _start_layer(self, names: list[str], extra_env: Mapping[str, str] | None = None) -> None:
        started: list[tuple[Child, Callable[[], bool]]] = []
        for name in names:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            command, env, ready = self._plan(name, port, url)
            child = spawn(name, command, self.log_dir, {**env, **(extra_env or {})})
            self._children.append(child)
            started.append((child, ready))
            self.urls[name] = f"redis://127.0.0.1:{port}/0" if name == "redis" else url
        wait_until_ready(started)

    def _plan(
        self, name: str, port: int, url: str
    ) -> tuple[list[str], dict[str, str], Callable[[], bool]]:
        env = clean_environ()
        if name == "redis":
            return self._redis_command(port), env, _redis_answers(port)
        if name == "idp":
            token_age = str(IDP_TOKEN_MAX_AGE_S)
            command = [*BFF, "idp", "--port", str(port), "--token-max-age", token_age]
            return command, env, http_ok(f"{url}/.well-known/openid-configuration")
        if name in ("stubs", "stubs_slow"):
            latency = SLOW_STUBS_LATENCY_MS if name == "stubs_slow" else 0
            command = [*BFF, "stubs", "--port", str(port), "--latency-ms", str(latency)]
            return command, env, http_ok(f"{url}/health")
        if name in ("naive", "ceiling"):
            if name == "naive":
                env[STUBS_URL_VARIABLE] = self.urls["stubs"]
            target = f"bench.{'naive_bff' if name == 'naive' else 'ceiling'}:create_app"
            command = [PYTHON, "-m", "bench.serve", target, "--port", str(port)]
            return command, env, http_ok(f"{url}/health")
        spec = GATEWAYS[name]
        env.update(self.gateway_env(spec, url))
        command = [*BFF, "serve", spec.gateway, "--port", str(port), "--workers", "1"]
        return command, env, http_ok(f"{url}/health/ready")

    def gateway_env(self, spec: GatewaySpec, url: str) -> dict[str, str]:
        """The ``BFF_*`` (and ``OTEL_*``) settings of a gateway answering at ``url``, on top of
        ``clean_environ()``: what a gateway of this stack is started with, and what
        ``bench.instructions`` builds its in-process gateways with, so both measure the same
        configuration."""
        env = {
            "BFF_PUBLIC_URL": url,
            "BFF_OIDC_ISSUER": self.urls["idp"],
            "BFF_OIDC_CLIENT_ID": f"bff-{spec.gateway}",
            "BFF_SECRET_KEY": SECRET_KEY,
            "BFF_REDIS_URL": self.redis_url,
            "BFF_ALLOWED_ORIGINS": url,
            "BFF_MOBILE_REDIRECT_URIS": "http://127.0.0.1:8765/cb",
            "BFF_LOG_FORMAT": "json",
            "BFF_RATE_LIMIT_LOGIN": UNREACHED_RATE,
            "BFF_RATE_LIMIT_TOKEN": UNREACHED_RATE,
            "BFF_RATE_LIMIT_API": UNREACHED_RATE,
        }
        for service in CORE_SERVICES:
            env[f"BFF_CORE_{service.upper()}_URL"] = f"{self.urls[spec.stubs]}/{service}"
        for variable, value in spec.env.items():
            if value == SINK:
                if self.sink is None:
                    raise StartError("a gateway exports to the OTLP sink, but none is running")
                value = self.sink.url
            env[variable] = value
        return env

    def _redis_command(self, port: int) -> list[str]:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StartError("redis-server is needed: apt-get install redis-server")
        return [
            binary,
            *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--dir", str(self._scratch)),
        ]


def _redis_answers(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1.0)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    return ready
