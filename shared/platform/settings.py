"""Typed, frozen settings, read once from the environment and passed into ``create_app``.

Nothing reads ``os.environ`` at import time: ``load_settings`` is called by the CLI (or a test)
with the mapping to read, and every bad value stops start-up with one ``ConfigError`` line that
names the variable. Secrets may come from ``NAME_FILE`` (a mounted file) instead of ``NAME``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import msgspec

from shared.platform.env_reader import ConfigError as ConfigError
from shared.platform.env_reader import EnvReader
from shared.platform.production_checks import DEV_SECRET_KEY, refuse_unsafe_production
from shared.platform.remote_api_settings import RemoteApiSettings, remote_apis
from shared.platform.settings_sections import MIN_RSA_CLIENT_KEY_BITS as MIN_RSA_CLIENT_KEY_BITS
from shared.platform.settings_sections import AuthzSettings as AuthzSettings
from shared.platform.settings_sections import ClientAuthMethod as ClientAuthMethod
from shared.platform.settings_sections import authz_settings, client_keys, tls_files
from shared.platform.tls import TlsClientFiles
from shared.platform.versions import ANY_VERSION, Version, parse_version

Gateway = Literal["web", "mobile"]
Environment = Literal["dev", "prod"]
RedisMode = Literal["standalone", "cluster", "sentinel"]
LogFormat = Literal["json", "console", "auto"]
ProxyHeader = Literal["x-forwarded-for", "forwarded"]
ParMode = Literal["auto", "always", "never"]
MobileDpopMode = Literal["optional", "required", "off"]
CLIENT_AUTH_METHODS: tuple[ClientAuthMethod, ...] = (
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
)
CORE_SERVICES = ("accounts", "catalog", "orders", "recommendations")
SECRET_VARIABLES = frozenset(
    {
        "BFF_OIDC_CLIENT_SECRET",
        "BFF_OIDC_CLIENT_KEY",
        "BFF_SECRET_KEY",
        "BFF_SECRET_KEY_PREVIOUS",
        "BFF_METRICS_TOKEN",
    }
)
MIN_SECRET_KEY_LENGTH = 32
_DEV_PORTS: dict[Gateway, int] = {"web": 8000, "mobile": 8001}


@dataclass(frozen=True, kw_only=True)
class CoreServiceSettings:
    """Where one core service lives and how patient the gateway is with it.

    These defaults are the only ones: the environment reader falls back to them, and
    ``core_clients.policy.ServicePolicy`` takes its own defaults from them.
    """

    name: str
    url: str
    connect_timeout_s: float = 0.5
    timeout_s: float = 3.0
    """Bound on one call to the service: every attempt and backoff sleep together."""
    max_attempts: int = 3
    breaker_failures: int = 5
    breaker_open_s: float = 5.0


@dataclass(frozen=True, kw_only=True)
class OtelSettings:
    service_name: str
    traces_exporter: str = "none"
    metrics_exporter: str = "prometheus"
    exporter_endpoint: str | None = None
    exporter_protocol: str = "http/protobuf"
    sampler: str = "parentbased_traceidratio"
    sampler_ratio: float = 0.1

    @property
    def metrics_exporters(self) -> tuple[str, ...]:
        """``OTEL_METRICS_EXPORTER`` is a comma list (``otlp,prometheus``), as the spec allows."""
        return tuple(name for name in self.metrics_exporter.split(",") if name != "none")


@dataclass(frozen=True, kw_only=True)
class Settings:
    gateway: Gateway
    env: Environment = "dev"
    public_url: str
    oidc_issuer: str
    oidc_client_id: str
    oidc_client_secret: str = field(default="", repr=False)
    oidc_scopes: tuple[str, ...] = ("openid", "profile", "email", "offline_access")
    oidc_client_auth: ClientAuthMethod = "client_secret_basic"
    oidc_client_key: str | None = field(default=None, repr=False)
    """PEM private key (EC P-256 or RSA >= 2048) for ``private_key_jwt``, checked at load."""
    oidc_client_key_id: str | None = None
    """The ``kid`` of ``oidc_client_key``; None: its RFC 7638 thumbprint."""
    oidc_client_key_previous: str | None = field(default=None, repr=False)
    """The key before a rotation: only its public half is published, never used to sign."""
    oidc_par: ParMode = "auto"
    oidc_dpop: bool = False
    """RFC 9449: each session's IdP tokens are bound to a key pair of its own."""
    post_logout_redirect_url: str
    secret_key: str = field(repr=False)
    secret_key_previous: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)  # may carry a password
    redis_mode: RedisMode = "standalone"
    core: tuple[CoreServiceSettings, ...]
    allowed_origins: tuple[str, ...] = ()
    mobile_redirect_uris: tuple[str, ...] = ()
    mobile_min_app_version: Version = ANY_VERSION
    mobile_upgrade_url: str = ""
    mobile_refresh_reuse_s: float = 10.0
    mobile_dpop: MobileDpopMode = "optional"
    """Whether the apps' tokens are DPoP-bound (``shared.identity.app_proofs``)."""
    session_idle_timeout_s: int = 1800
    session_absolute_timeout_s: int = 28800
    token_refresh_skew_s: int = 60
    screen_deadline_s: float = 2.5
    cache_product_ttl_s: float = 60.0
    cache_product_stale_s: float = 600.0
    workers: int = 1
    shutdown_timeout_s: int = 20
    """How long ``bff serve`` lets in-flight requests finish after SIGTERM before it kills a
    worker; a Kubernetes termination grace period must be longer (``deploy/kubernetes/``)."""
    log_format: LogFormat = "auto"
    log_level: str = "INFO"
    metrics_token: str | None = field(default=None, repr=False)
    openapi_enabled: bool = True
    session_max_per_user: int = 20
    rate_limit_login: str | None = "30/minute"
    rate_limit_token: str | None = "60/minute"  # noqa: S105 (a rate, not a secret)
    rate_limit_api: str | None = "600/minute"
    """Each a ``limits`` rate ("30/minute", "5/second"), or None when set to ``off``."""
    trusted_proxies: tuple[str, ...] = ()
    """CIDRs of the reverse proxies whose forwarding header names the client."""
    trusted_proxy_header: ProxyHeader = "x-forwarded-for"
    redis_allow_plaintext: bool = False
    otel: OtelSettings
    authz: AuthzSettings = field(default_factory=AuthzSettings)
    core_tls: TlsClientFiles = field(default_factory=TlsClientFiles)
    oidc_tls: TlsClientFiles = field(default_factory=TlsClientFiles)
    redis_tls: TlsClientFiles = field(default_factory=TlsClientFiles)
    allow_plaintext_upstreams: bool = False
    """A service mesh encrypts the hops: prod then accepts http core and redis:// URLs."""
    remote_apis: tuple[RemoteApiSettings, ...] = ()
    """The downstream APIs declared in ``BFF_REMOTE_APIS_FILE`` (``shared.remote``)."""

    @property
    def is_prod(self) -> bool:
        return self.env == "prod"

    def core_service(self, name: str) -> CoreServiceSettings:
        return next(svc for svc in self.core if svc.name == name)

    def redacted(self) -> dict[str, object]:
        """Effective settings for ``bff config check``: every secret replaced by a marker."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        for name in (
            "oidc_client_secret",
            "oidc_client_key",
            "oidc_client_key_previous",
            "secret_key",
            "secret_key_previous",
            "metrics_token",
        ):
            if data.get(name):
                data[name] = "<redacted>"
        if data.get("redis_url"):
            data["redis_url"] = _redact_url_password(data["redis_url"])
        data["mobile_min_app_version"] = str(self.mobile_min_app_version)  # not [2, 3, 0]
        return dict(data)


def _redact_url_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":<redacted>@")
    return parts._replace(netloc=netloc).geturl()


def _check_secret_key(name: str, value: str) -> None:
    if len(value) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(name, f"must be at least {MIN_SECRET_KEY_LENGTH} characters")
    if len(set(value)) < 8:
        raise ConfigError(name, "must be a random string, not a repeated pattern")


def _version(reader: EnvReader, name: str, default: str) -> Version:
    value = reader.text(name, default)
    version = parse_version(value)
    if version is None:
        raise ConfigError(
            name, f"must be a version like 2.3.0 (up to three numbers of 1-9 digits), got {value!r}"
        )
    return version


def _origin_list(reader: EnvReader, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    origins = reader.url_list(name, schemes=("http", "https")) or default
    for origin in origins:
        parts = urlsplit(origin)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ConfigError(name, f"{origin!r} must be an origin (scheme://host[:port]) only")
    return tuple(o.rstrip("/") for o in origins)


def _core_settings(reader: EnvReader) -> tuple[CoreServiceSettings, ...]:
    services = []
    for service in CORE_SERVICES:
        prefix = f"BFF_CORE_{service.upper()}"
        # The dataclass's defaults are the only ones: what is not set keeps them.
        default = CoreServiceSettings(name=service, url=f"http://127.0.0.1:8100/{service}")
        services.append(
            CoreServiceSettings(
                name=service,
                url=reader.url(f"{prefix}_URL", default.url),
                connect_timeout_s=reader.number(
                    f"{prefix}_CONNECT_TIMEOUT", default.connect_timeout_s, minimum=0.01, maximum=60
                ),
                timeout_s=reader.number(
                    f"{prefix}_TIMEOUT", default.timeout_s, minimum=0.01, maximum=120
                ),
                max_attempts=reader.integer(
                    f"{prefix}_MAX_ATTEMPTS", default.max_attempts, minimum=1, maximum=10
                ),
                breaker_failures=reader.integer(
                    f"{prefix}_BREAKER_FAILURES", default.breaker_failures, minimum=1, maximum=1000
                ),
                breaker_open_s=reader.number(
                    f"{prefix}_BREAKER_OPEN_SECONDS",
                    default.breaker_open_s,
                    minimum=0.1,
                    maximum=3600,
                ),
            )
        )
    return tuple(services)


def _otel_settings(reader: EnvReader, gateway: Gateway) -> OtelSettings:
    exporters = ("none", "otlp", "console")
    sampler = reader.choice(
        "OTEL_TRACES_SAMPLER",
        "parentbased_traceidratio",
        (
            "always_on",
            "always_off",
            "traceidratio",
            "parentbased_always_on",
            "parentbased_always_off",
            "parentbased_traceidratio",
        ),
    )
    return OtelSettings(
        service_name=reader.text("OTEL_SERVICE_NAME", f"bff-{gateway}"),
        traces_exporter=reader.choice("OTEL_TRACES_EXPORTER", "none", exporters),
        metrics_exporter=_metrics_exporters(reader),
        exporter_endpoint=(
            reader.url("OTEL_EXPORTER_OTLP_ENDPOINT", "")
            if reader.raw("OTEL_EXPORTER_OTLP_ENDPOINT")
            else None
        ),
        exporter_protocol=reader.choice(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", ("http/protobuf", "grpc")
        ),
        sampler=sampler,
        sampler_ratio=reader.number("OTEL_TRACES_SAMPLER_ARG", 0.1, minimum=0.0, maximum=1.0),
    )


def _metrics_exporters(reader: EnvReader) -> str:
    allowed = ("none", "otlp", "prometheus", "console")
    names = [
        name.strip()
        for name in reader.text("OTEL_METRICS_EXPORTER", "prometheus").lower().split(",")
    ]
    for name in names:
        if name not in allowed:
            raise ConfigError(
                "OTEL_METRICS_EXPORTER", f"must be among {', '.join(allowed)}, got {name!r}"
            )
    return ",".join(dict.fromkeys(name for name in names if name)) or "none"


def load_settings(gateway: Gateway, environ: Mapping[str, str] | None = None) -> Settings:
    """Read every setting of one gateway; raises ``ConfigError`` on the first bad value."""
    reader = EnvReader(os.environ if environ is None else environ, SECRET_VARIABLES)
    env = cast(Environment, reader.choice("BFF_ENV", "dev", ("dev", "prod")))
    public_url = reader.url("BFF_PUBLIC_URL", f"http://127.0.0.1:{_DEV_PORTS[gateway]}")

    secret_key = _secret(reader, env, "BFF_SECRET_KEY", DEV_SECRET_KEY)
    _check_secret_key("BFF_SECRET_KEY", secret_key)
    previous_key = reader.raw("BFF_SECRET_KEY_PREVIOUS")
    if previous_key is not None:
        _check_secret_key("BFF_SECRET_KEY_PREVIOUS", previous_key)
    client_auth = cast(
        ClientAuthMethod,
        reader.choice("BFF_OIDC_CLIENT_AUTH", "client_secret_basic", CLIENT_AUTH_METHODS),
    )
    client_key, client_key_previous = client_keys(reader, client_auth)
    if client_auth == "private_key_jwt" and reader.raw("BFF_OIDC_CLIENT_SECRET") is None:
        client_secret = ""  # the key authenticates the client; no secret is needed
    else:
        client_secret = _secret(reader, env, "BFF_OIDC_CLIENT_SECRET", f"dev-secret-bff-{gateway}")

    scopes = tuple(reader.text("BFF_OIDC_SCOPES", "openid profile email offline_access").split())
    if "openid" not in scopes:
        raise ConfigError("BFF_OIDC_SCOPES", "must include 'openid'")
    redis_url, redis_mode = _redis(reader)
    idle, absolute = _session_timeouts(reader)
    workers = reader.integer("BFF_WORKERS", 1, minimum=1, maximum=64)
    log_format, log_level = _logging(reader)

    settings = Settings(
        gateway=gateway,
        env=env,
        public_url=public_url,
        oidc_issuer=reader.url("BFF_OIDC_ISSUER", "http://127.0.0.1:9400"),
        oidc_client_id=reader.text("BFF_OIDC_CLIENT_ID", f"bff-{gateway}"),
        oidc_client_secret=client_secret,
        oidc_scopes=scopes,
        oidc_client_auth=client_auth,
        oidc_client_key=client_key,
        oidc_client_key_id=reader.raw("BFF_OIDC_CLIENT_KEY_ID"),
        oidc_client_key_previous=client_key_previous,
        oidc_par=cast(ParMode, reader.choice("BFF_OIDC_PAR", "auto", ("auto", "always", "never"))),
        oidc_dpop=reader.flag("BFF_OIDC_DPOP", False),
        post_logout_redirect_url=reader.url(
            "BFF_POST_LOGOUT_REDIRECT_URL", f"{public_url}/", strip_slash=False
        ),
        secret_key=secret_key,
        secret_key_previous=previous_key,
        redis_url=redis_url,
        redis_mode=redis_mode,
        core=_core_settings(reader),
        allowed_origins=_origin_list(reader, "BFF_ALLOWED_ORIGINS", (public_url,)),
        mobile_redirect_uris=reader.url_list("BFF_MOBILE_REDIRECT_URIS"),
        mobile_min_app_version=_version(reader, "BFF_MOBILE_MIN_APP_VERSION", "0.0.0"),
        mobile_upgrade_url=reader.text("BFF_MOBILE_UPGRADE_URL", "https://example.com/app"),
        mobile_refresh_reuse_s=reader.number(
            "BFF_MOBILE_REFRESH_REUSE_SECONDS", 10.0, minimum=0, maximum=300
        ),
        mobile_dpop=cast(
            MobileDpopMode,
            reader.choice("BFF_MOBILE_DPOP", "optional", ("optional", "required", "off")),
        ),
        session_idle_timeout_s=idle,
        session_absolute_timeout_s=absolute,
        token_refresh_skew_s=reader.integer("BFF_TOKEN_REFRESH_SKEW", 60, minimum=0, maximum=3600),
        screen_deadline_s=reader.number("BFF_SCREEN_DEADLINE", 2.5, minimum=0.05, maximum=60),
        cache_product_ttl_s=reader.number(
            "BFF_CACHE_PRODUCT_TTL", 60.0, minimum=0.1, maximum=86400
        ),
        cache_product_stale_s=reader.number(
            "BFF_CACHE_PRODUCT_STALE", 600.0, minimum=0.0, maximum=86400
        ),
        workers=workers,
        shutdown_timeout_s=reader.integer("BFF_SHUTDOWN_TIMEOUT", 20, minimum=1, maximum=600),
        log_format=log_format,
        log_level=log_level,
        metrics_token=reader.raw("BFF_METRICS_TOKEN"),
        openapi_enabled=reader.flag("BFF_OPENAPI", env != "prod"),
        session_max_per_user=reader.integer(
            "BFF_SESSION_MAX_PER_USER", 20, minimum=1, maximum=1000
        ),
        rate_limit_login=reader.rate("BFF_RATE_LIMIT_LOGIN", "30/minute"),
        rate_limit_token=reader.rate("BFF_RATE_LIMIT_TOKEN", "60/minute"),
        rate_limit_api=reader.rate("BFF_RATE_LIMIT_API", "600/minute"),
        trusted_proxies=reader.networks("BFF_TRUSTED_PROXIES"),
        trusted_proxy_header=cast(
            ProxyHeader,
            reader.choice(
                "BFF_TRUSTED_PROXY_HEADER", "x-forwarded-for", ("x-forwarded-for", "forwarded")
            ),
        ),
        redis_allow_plaintext=reader.flag("BFF_REDIS_ALLOW_PLAINTEXT", False),
        otel=_otel_settings(reader, gateway),
        authz=authz_settings(reader),
        core_tls=tls_files(reader, "BFF_CORE", client_certificate=True),
        oidc_tls=tls_files(reader, "BFF_OIDC", client_certificate=False),
        redis_tls=tls_files(reader, "BFF_REDIS", client_certificate=True),
        allow_plaintext_upstreams=reader.flag("BFF_ALLOW_PLAINTEXT_UPSTREAMS", False),
        remote_apis=remote_apis(reader, gateway),
    )
    if env == "prod":
        refuse_unsafe_production(settings, reader)
    return settings


def _secret(reader: EnvReader, env: Environment, name: str, dev_default: str) -> str:
    """A secret, required in production; in dev a fixed, well-known default stands in."""
    value = reader.raw(name)
    if value is not None:
        return value
    if env == "prod":
        raise ConfigError(name, "is required when BFF_ENV=prod")
    return dev_default


def _logging(reader: EnvReader) -> tuple[LogFormat, str]:
    log_format = reader.choice("BFF_LOG_FORMAT", "auto", ("json", "console", "auto"))
    levels = ("debug", "info", "warning", "error", "critical")
    return cast(LogFormat, log_format), reader.choice("BFF_LOG_LEVEL", "info", levels).upper()


def _redis(reader: EnvReader) -> tuple[str | None, RedisMode]:
    redis_url = reader.raw("BFF_REDIS_URL")
    if redis_url is not None:
        redis_url = reader.url("BFF_REDIS_URL", "", schemes=("redis", "rediss"))
    mode = reader.choice("BFF_REDIS_MODE", "standalone", ("standalone", "cluster", "sentinel"))
    return redis_url, cast(RedisMode, mode)


def _session_timeouts(reader: EnvReader) -> tuple[int, int]:
    idle = reader.integer("BFF_SESSION_IDLE_TIMEOUT", 1800, minimum=60, maximum=86400 * 30)
    absolute = reader.integer("BFF_SESSION_ABSOLUTE_TIMEOUT", 28800, minimum=60, maximum=86400 * 90)
    if absolute < idle:
        raise ConfigError(
            "BFF_SESSION_ABSOLUTE_TIMEOUT", "must not be shorter than BFF_SESSION_IDLE_TIMEOUT"
        )
    return idle, absolute
