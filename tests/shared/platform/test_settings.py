"""Settings: every variable parsed, secrets from files, one clear line for each bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.platform.production_checks import refuse_unshared_workers
from shared.platform.settings import ConfigError, load_settings
from shared.platform.versions import Version

PROD_KEY = "Zq3v9XkP2mW7rT5yB8nL4cF6hJ1dG0sA"
PREVIOUS_KEY = "Hn5Kp8Rt2Wv6Yz9Bc3Df7Gj1Lm4Nq0Sx"
PROD_BASE = {
    "BFF_ENV": "prod",
    "BFF_PUBLIC_URL": "https://shop.example.com",
    "BFF_OIDC_ISSUER": "https://id.example.com",
    "BFF_OIDC_CLIENT_SECRET": "s3cret-client",
    "BFF_SECRET_KEY": PROD_KEY,
    "BFF_REDIS_URL": "rediss://redis.internal:6379/0",
    "BFF_ALLOWED_ORIGINS": "https://shop.example.com",
}


def test_dev_defaults_need_no_environment() -> None:
    """With nothing set, a developer gets a working local configuration."""
    settings = load_settings("web", {})
    assert settings.env == "dev"
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.oidc_issuer == "http://127.0.0.1:9400"
    assert settings.redis_url is None
    assert settings.core_service("catalog").url == "http://127.0.0.1:8100/catalog"
    assert settings.otel.service_name == "bff-web"
    assert load_settings("mobile", {}).otel.service_name == "bff-mobile"
    assert settings.mobile_dpop == "optional"


def test_every_variable_is_parsed(tmp_path: Path) -> None:
    """Each documented variable lands in its typed field."""
    environ = {
        **PROD_BASE,
        "BFF_OIDC_CLIENT_ID": "web-client",
        "BFF_OIDC_SCOPES": "openid email",
        "BFF_SECRET_KEY_PREVIOUS": PREVIOUS_KEY,
        "BFF_REDIS_MODE": "cluster",
        "BFF_CORE_ACCOUNTS_URL": "https://accounts.internal/",
        "BFF_CORE_CATALOG_URL": "https://catalog.internal",
        "BFF_CORE_ORDERS_URL": "https://orders.internal",
        "BFF_CORE_RECOMMENDATIONS_URL": "https://recs.internal",
        "BFF_CORE_CATALOG_TIMEOUT": "1.5",
        "BFF_CORE_CATALOG_BREAKER_FAILURES": "7",
        "BFF_ALLOWED_ORIGINS": "https://shop.example.com, https://www.example.com",
        "BFF_MOBILE_REDIRECT_URIS": "com.example.app:/cb,https://app.example.com/cb",
        "BFF_MOBILE_MIN_APP_VERSION": "2.3.0",
        "BFF_MOBILE_REFRESH_REUSE_SECONDS": "2.5",
        "BFF_MOBILE_DPOP": "Required",
        "BFF_SESSION_IDLE_TIMEOUT": "600",
        "BFF_SESSION_ABSOLUTE_TIMEOUT": "3600",
        "BFF_TOKEN_REFRESH_SKEW": "30",
        "BFF_LOG_FORMAT": "json",
        "BFF_LOG_LEVEL": "debug",
        "BFF_WORKERS": "4",
        "OTEL_SERVICE_NAME": "web-eu",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_TRACES_SAMPLER": "always_on",
        "OTEL_TRACES_SAMPLER_ARG": "0.5",
    }
    s = load_settings("web", environ)
    assert s.is_prod
    assert s.oidc_client_id == "web-client"
    assert s.oidc_scopes == ("openid", "email")
    assert s.secret_key_previous == PREVIOUS_KEY
    assert s.redis_mode == "cluster"
    assert s.core_service("accounts").url == "https://accounts.internal"
    assert s.core_service("catalog").timeout_s == 1.5
    assert s.core_service("catalog").breaker_failures == 7
    assert s.allowed_origins == ("https://shop.example.com", "https://www.example.com")
    assert s.mobile_redirect_uris == ("com.example.app:/cb", "https://app.example.com/cb")
    assert s.mobile_min_app_version == Version(2, 3, 0)
    assert s.mobile_refresh_reuse_s == 2.5
    assert s.mobile_dpop == "required"
    assert (s.session_idle_timeout_s, s.session_absolute_timeout_s) == (600, 3600)
    assert s.token_refresh_skew_s == 30
    assert (s.log_format, s.log_level, s.workers) == ("json", "DEBUG", 4)
    assert s.otel.service_name == "web-eu"
    assert s.otel.traces_exporter == "otlp"
    assert s.otel.exporter_protocol == "grpc"
    assert (s.otel.sampler, s.otel.sampler_ratio) == ("always_on", 0.5)


def test_secrets_are_read_from_files(tmp_path: Path) -> None:
    """NAME_FILE supplies a secret (Docker/Kubernetes secrets), trailing newline stripped."""
    key_file = tmp_path / "key"
    key_file.write_text(PREVIOUS_KEY + "\n")
    client_file = tmp_path / "client"
    client_file.write_text("from-file\n")
    environ = {k: v for k, v in PROD_BASE.items() if k not in ("BFF_SECRET_KEY",)}
    environ.pop("BFF_OIDC_CLIENT_SECRET")
    environ |= {
        "BFF_SECRET_KEY_FILE": str(key_file),
        "BFF_OIDC_CLIENT_SECRET_FILE": str(client_file),
    }
    s = load_settings("mobile", environ)
    assert s.secret_key == PREVIOUS_KEY
    assert s.oidc_client_secret == "from-file"


def test_secrets_never_show_in_repr_or_redacted_view() -> None:
    s = load_settings("web", {**PROD_BASE, "BFF_REDIS_URL": "rediss://:pw123@redis:6379/0"})
    text = repr(s) + str(s.redacted())
    assert "s3cret-client" not in text
    assert PROD_KEY not in text
    assert "pw123" not in text


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"BFF_ENV": "staging"}, "BFF_ENV"),
        ({"BFF_PUBLIC_URL": "not a url"}, "BFF_PUBLIC_URL"),
        ({"BFF_OIDC_ISSUER": "ftp://id"}, "BFF_OIDC_ISSUER"),
        ({"BFF_SECRET_KEY": "short"}, "BFF_SECRET_KEY"),
        ({"BFF_SECRET_KEY": "ab" * 20}, "BFF_SECRET_KEY"),
        ({"BFF_SECRET_KEY_PREVIOUS": "short"}, "BFF_SECRET_KEY_PREVIOUS"),
        ({"BFF_OIDC_SCOPES": "profile email"}, "BFF_OIDC_SCOPES"),
        ({"BFF_REDIS_URL": "http://redis"}, "BFF_REDIS_URL"),
        ({"BFF_REDIS_MODE": "ring"}, "BFF_REDIS_MODE"),
        ({"BFF_CORE_ORDERS_URL": "orders"}, "BFF_CORE_ORDERS_URL"),
        ({"BFF_CORE_ORDERS_TIMEOUT": "-1"}, "BFF_CORE_ORDERS_TIMEOUT"),
        ({"BFF_CORE_ORDERS_MAX_ATTEMPTS": "two"}, "BFF_CORE_ORDERS_MAX_ATTEMPTS"),
        ({"BFF_ALLOWED_ORIGINS": "https://a.example/path"}, "BFF_ALLOWED_ORIGINS"),
        ({"BFF_MOBILE_REDIRECT_URIS": "no-scheme"}, "BFF_MOBILE_REDIRECT_URIS"),
        ({"BFF_MOBILE_MIN_APP_VERSION": "v2"}, "BFF_MOBILE_MIN_APP_VERSION"),
        ({"BFF_MOBILE_MIN_APP_VERSION": "1234567890.0"}, "BFF_MOBILE_MIN_APP_VERSION"),
        ({"BFF_MOBILE_MIN_APP_VERSION": "\u0662.\u0663"}, "BFF_MOBILE_MIN_APP_VERSION"),
        ({"BFF_SESSION_IDLE_TIMEOUT": "abc"}, "BFF_SESSION_IDLE_TIMEOUT"),
        (
            {"BFF_SESSION_IDLE_TIMEOUT": "600", "BFF_SESSION_ABSOLUTE_TIMEOUT": "300"},
            "BFF_SESSION_ABSOLUTE_TIMEOUT",
        ),
        ({"BFF_TOKEN_REFRESH_SKEW": "-5"}, "BFF_TOKEN_REFRESH_SKEW"),
        ({"BFF_MOBILE_REFRESH_REUSE_SECONDS": "-1"}, "BFF_MOBILE_REFRESH_REUSE_SECONDS"),
        ({"BFF_MOBILE_REFRESH_REUSE_SECONDS": "ten"}, "BFF_MOBILE_REFRESH_REUSE_SECONDS"),
        ({"BFF_MOBILE_DPOP": "yes"}, "BFF_MOBILE_DPOP"),
        ({"BFF_LOG_FORMAT": "xml"}, "BFF_LOG_FORMAT"),
        ({"BFF_LOG_LEVEL": "loud"}, "BFF_LOG_LEVEL"),
        ({"BFF_WORKERS": "0"}, "BFF_WORKERS"),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        ({"OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG"),
        ({"BFF_SECRET_KEY_FILE": "/nonexistent/key"}, "BFF_SECRET_KEY_FILE"),
        ({"BFF_SECRET_KEY": PROD_KEY, "BFF_SECRET_KEY_FILE": "/nonexistent/k"}, "BFF_SECRET_KEY"),
        ({"BFF_OPENAPI": "yes"}, "BFF_OPENAPI"),
        ({"BFF_SESSION_MAX_PER_USER": "0"}, "BFF_SESSION_MAX_PER_USER"),
        ({"BFF_RATE_LIMIT_LOGIN": "30/fortnight"}, "BFF_RATE_LIMIT_LOGIN"),
        ({"BFF_RATE_LIMIT_TOKEN": "0/minute"}, "BFF_RATE_LIMIT_TOKEN"),
        ({"BFF_RATE_LIMIT_API": "many"}, "BFF_RATE_LIMIT_API"),
        ({"BFF_TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"}, "BFF_TRUSTED_PROXIES"),
        ({"BFF_TRUSTED_PROXY_HEADER": "x-real-ip"}, "BFF_TRUSTED_PROXY_HEADER"),
        ({"BFF_REDIS_ALLOW_PLAINTEXT": "1"}, "BFF_REDIS_ALLOW_PLAINTEXT"),
    ],
)
def test_each_bad_value_names_its_variable(environ: dict[str, str], variable: str) -> None:
    """A bad value gives one line that starts with the variable's name."""
    with pytest.raises(ConfigError) as info:
        load_settings("web", environ)
    message = str(info.value)
    assert message.startswith(f"{variable}: ")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"BFF_SECRET_KEY": None}, "BFF_SECRET_KEY"),
        ({"BFF_OIDC_CLIENT_SECRET": None}, "BFF_OIDC_CLIENT_SECRET"),
        ({"BFF_PUBLIC_URL": "http://shop.example.com"}, "BFF_PUBLIC_URL"),
        ({"BFF_OIDC_ISSUER": "http://id.example.com"}, "BFF_OIDC_ISSUER"),
        ({"BFF_REDIS_URL": None, "BFF_WORKERS": "4"}, "BFF_REDIS_URL"),
        ({"BFF_ALLOWED_ORIGINS": "http://shop.example.com"}, "BFF_ALLOWED_ORIGINS"),
        (
            {"BFF_SECRET_KEY": "dev-only-secret-key-never-use-in-production-0123456789"},
            "BFF_SECRET_KEY",
        ),
        ({"BFF_OIDC_CLIENT_SECRET": "dev-secret-bff-web"}, "BFF_OIDC_CLIENT_SECRET"),
        (
            {"BFF_POST_LOGOUT_REDIRECT_URL": "http://shop.example.com/"},
            "BFF_POST_LOGOUT_REDIRECT_URL",
        ),
        ({"BFF_REDIS_URL": "redis://redis.internal:6379/0"}, "BFF_REDIS_URL"),
        (
            {"BFF_REDIS_URL": "redis://127.0.0.1:26379,sentinel-2.internal:26379/main"},
            "BFF_REDIS_URL",
        ),
        ({"BFF_METRICS_TOKEN": "x"}, "BFF_METRICS_TOKEN"),
    ],
)
def test_production_refuses_unsafe_setups(override: dict[str, str | None], variable: str) -> None:
    environ = dict(PROD_BASE)
    for key, value in override.items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    with pytest.raises(ConfigError) as info:
        load_settings("web", environ)
    assert info.value.variable == variable


def test_production_accepts_a_safe_setup() -> None:
    assert load_settings("web", PROD_BASE).is_prod


def test_each_production_refusal_is_one_line_naming_its_variable() -> None:
    """The operator sees what to change, and nothing else."""
    with pytest.raises(ConfigError) as info:
        load_settings("web", {**PROD_BASE, "BFF_OIDC_CLIENT_SECRET": "dev-secret-bff-web"})
    assert str(info.value) == ("BFF_OIDC_CLIENT_SECRET: is a development secret; set the real one")


@pytest.mark.parametrize(
    "redis_url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://localhost:6379/0",
        "redis://[::1]:6379/0",
        "redis://:pw@127.0.0.1:26379,127.0.0.2:26379/main",
    ],
)
def test_production_allows_plaintext_redis_on_this_machine(redis_url: str) -> None:
    assert load_settings("web", {**PROD_BASE, "BFF_REDIS_URL": redis_url}).redis_url == redis_url


def test_production_allows_plaintext_redis_when_told_so() -> None:
    environ = {
        **PROD_BASE,
        "BFF_REDIS_URL": "redis://redis.internal:6379/0",
        "BFF_REDIS_ALLOW_PLAINTEXT": "true",
    }
    assert load_settings("web", environ).redis_allow_plaintext


def test_production_accepts_a_long_metrics_token() -> None:
    token = "m3tr1cs-t0ken-Qx7Vb2Nk9Lw4"
    assert load_settings("web", {**PROD_BASE, "BFF_METRICS_TOKEN": token}).metrics_token == token


def test_hardening_defaults() -> None:
    """The schema is public in dev only; sessions per user and request rates are capped."""
    dev, prod = load_settings("web", {}), load_settings("web", PROD_BASE)
    assert dev.openapi_enabled
    assert not prod.openapi_enabled
    assert load_settings("web", {**PROD_BASE, "BFF_OPENAPI": "true"}).openapi_enabled
    assert dev.session_max_per_user == 20
    assert (dev.rate_limit_login, dev.rate_limit_token, dev.rate_limit_api) == (
        "30/minute",
        "60/minute",
        "600/minute",
    )
    assert dev.trusted_proxies == ()
    assert dev.trusted_proxy_header == "x-forwarded-for"


def test_rate_limits_and_trusted_proxies_are_parsed() -> None:
    settings = load_settings(
        "mobile",
        {
            "BFF_RATE_LIMIT_LOGIN": "5/second",
            "BFF_RATE_LIMIT_TOKEN": "OFF",
            "BFF_RATE_LIMIT_API": "1000 per hour",
            "BFF_TRUSTED_PROXIES": "10.1.2.3/8, 2001:db8::/32,192.0.2.7",
            "BFF_TRUSTED_PROXY_HEADER": "Forwarded",
            "BFF_SESSION_MAX_PER_USER": "3",
        },
    )
    assert settings.rate_limit_login == "5/second"
    assert settings.rate_limit_token is None
    assert settings.rate_limit_api == "1000 per hour"
    assert settings.trusted_proxies == ("10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32")
    assert settings.trusted_proxy_header == "forwarded"
    assert settings.session_max_per_user == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", (2, 0, 0)),
        ("2.3", (2, 3, 0)),
        ("02.10.1", (2, 10, 1)),
        ("999999999.0", (999999999, 0, 0)),
    ],
)
def test_the_minimum_app_version_is_kept_parsed(value: str, expected: tuple[int, int, int]) -> None:
    """The gate compares against this very value: what config check accepts, start-up accepts."""
    settings = load_settings("mobile", {"BFF_MOBILE_MIN_APP_VERSION": value})
    assert settings.mobile_min_app_version == expected
    assert settings.redacted()["mobile_min_app_version"] == ".".join(map(str, expected))


def test_too_long_a_minimum_app_version_is_refused_at_load() -> None:
    """Ten digits in a part used to pass the settings and then stop start-up with a traceback."""
    with pytest.raises(ConfigError) as info:
        load_settings("mobile", {"BFF_MOBILE_MIN_APP_VERSION": "1234567890.0"})
    assert info.value.variable == "BFF_MOBILE_MIN_APP_VERSION"
    assert "'1234567890.0'" in str(info.value)


def test_several_workers_without_redis_are_refused_the_same_way_for_any_source() -> None:
    """BFF_WORKERS (checked at load) and ``bff serve --workers`` (checked after) share one rule."""
    without_redis = {k: v for k, v in PROD_BASE.items() if k != "BFF_REDIS_URL"}
    with pytest.raises(ConfigError) as at_load:
        load_settings("web", {**without_redis, "BFF_WORKERS": "2"})
    settings = load_settings("web", without_redis)
    refuse_unshared_workers(settings, 1)
    with pytest.raises(ConfigError) as from_the_command_line:
        refuse_unshared_workers(settings, 2)
    assert str(at_load.value) == str(from_the_command_line.value)
    assert at_load.value.variable == "BFF_REDIS_URL"
    refuse_unshared_workers(load_settings("web", PROD_BASE), 8)  # with Redis: fine
    refuse_unshared_workers(load_settings("web", {}), 8)  # dev: a developer's choice
