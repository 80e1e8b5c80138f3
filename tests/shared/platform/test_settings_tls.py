"""TLS settings: CA bundles and client certificates for the core services, the IdP and Redis,
checked at start-up (one line naming the variable), and production's refusal of plaintext
upstreams off this host unless a mesh encrypts them."""

from __future__ import annotations

import ssl

import pytest

from shared.platform.settings import ConfigError, load_settings
from tests.fixtures.tls import Pki
from tests.shared.platform.test_cli import run_bff
from tests.shared.platform.test_settings import PROD_BASE


def test_tls_files_are_read_into_each_upstreams_settings(pki: Pki) -> None:
    settings = load_settings(
        "web", {**pki.env("BFF_CORE"), **pki.env("BFF_REDIS"), "BFF_OIDC_CA_FILE": str(pki.ca)}
    )
    assert settings.core_tls.ca_file == str(pki.ca)
    assert settings.core_tls.client_cert_file == str(pki.client_cert)
    assert settings.redis_tls.client_key_file == str(pki.client_key)
    assert settings.oidc_tls.ca_file == str(pki.ca)
    context = settings.core_tls.client_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [cert["subject"] for cert in context.get_ca_certs()] == [
        cert["subject"] for cert in ssl.create_default_context(cafile=str(pki.ca)).get_ca_certs()
    ]


def test_without_a_ca_file_the_system_store_is_trusted() -> None:
    settings = load_settings("web", {})
    assert settings.core_tls.ca_file is None
    system = ssl.create_default_context()
    assert len(settings.core_tls.client_context().get_ca_certs()) == len(system.get_ca_certs())


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"BFF_CORE_CA_FILE": "/nonexistent/ca.pem"}, "BFF_CORE_CA_FILE"),
        ({"BFF_OIDC_CA_FILE": "{client_key}"}, "BFF_OIDC_CA_FILE"),
        (
            {"BFF_REDIS_CA_FILE": "{ca}", "BFF_REDIS_CLIENT_CERT_FILE": "{client_cert}"},
            "BFF_REDIS_CLIENT_KEY_FILE",
        ),
        ({"BFF_CORE_CLIENT_KEY_FILE": "{client_key}"}, "BFF_CORE_CLIENT_CERT_FILE"),
        (
            {
                "BFF_CORE_CLIENT_CERT_FILE": "{client_cert}",
                "BFF_CORE_CLIENT_KEY_FILE": "{server_key}",
            },
            "BFF_CORE_CLIENT_CERT_FILE",
        ),
        ({"BFF_ALLOW_PLAINTEXT_UPSTREAMS": "maybe"}, "BFF_ALLOW_PLAINTEXT_UPSTREAMS"),
    ],
)
def test_a_bad_tls_file_is_one_line_naming_its_variable(
    pki: Pki, environ: dict[str, str], variable: str
) -> None:
    """Unreadable, not a CA, a certificate without its key, a key that is not the certificate's."""
    files = {
        name: str(getattr(pki, name)) for name in ("ca", "client_cert", "client_key", "server_key")
    }
    resolved = {key: value.format(**files) for key, value in environ.items()}
    with pytest.raises(ConfigError) as info:
        load_settings("web", resolved)
    assert info.value.variable == variable
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"BFF_CORE_CATALOG_URL": "http://catalog.internal/catalog"}, "BFF_CORE_CATALOG_URL"),
        ({"BFF_REDIS_URL": "redis://redis.internal:6379/0"}, "BFF_REDIS_URL"),
        (
            {
                "BFF_REDIS_URL": "redis://127.0.0.1:26379,sentinel.internal:26379/main",
                "BFF_REDIS_MODE": "sentinel",
            },
            "BFF_REDIS_URL",
        ),
        (
            {"BFF_OIDC_ISSUER": "http://id.example.com", "BFF_ALLOW_PLAINTEXT_UPSTREAMS": "true"},
            "BFF_OIDC_ISSUER",
        ),
    ],
)
def test_production_refuses_plaintext_upstreams_off_this_host(
    override: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings("web", {**PROD_BASE, **override})
    assert info.value.variable == variable


@pytest.mark.parametrize(
    "override",
    [
        {"BFF_CORE_CATALOG_URL": "http://127.0.0.1:8100/catalog"},
        {"BFF_CORE_CATALOG_URL": "http://localhost:8100/catalog"},
        {"BFF_REDIS_URL": "redis://[::1]:6379/0"},
        {"BFF_CORE_CATALOG_URL": "https://catalog.internal/catalog"},
        {"BFF_REDIS_URL": "rediss://redis.internal:6380/0"},
        {
            "BFF_CORE_CATALOG_URL": "http://catalog.internal/catalog",
            "BFF_REDIS_URL": "redis://redis.internal:6379/0",
            "BFF_ALLOW_PLAINTEXT_UPSTREAMS": "true",
        },
        {"BFF_REDIS_URL": "redis://redis.internal:6379/0", "BFF_REDIS_ALLOW_PLAINTEXT": "true"},
    ],
)
def test_production_accepts_tls_loopback_or_an_encrypting_mesh(override: dict[str, str]) -> None:
    assert load_settings("web", {**PROD_BASE, **override}).is_prod


def test_plaintext_redis_allowed_alone_still_refuses_plaintext_core_services() -> None:
    environ = {
        **PROD_BASE,
        "BFF_REDIS_URL": "redis://redis.internal:6379/0",
        "BFF_REDIS_ALLOW_PLAINTEXT": "true",
        "BFF_CORE_ORDERS_URL": "http://orders.internal/orders",
    }
    with pytest.raises(ConfigError) as info:
        load_settings("web", environ)
    assert info.value.variable == "BFF_CORE_ORDERS_URL"


def test_plaintext_in_production_stops_start_up_with_one_line_and_exit_2() -> None:
    environ = {**PROD_BASE, "BFF_CORE_ACCOUNTS_URL": "http://accounts.internal/accounts"}
    result = run_bff("config", "check", "web", **environ)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "bff: configuration error: BFF_CORE_ACCOUNTS_URL: must be https when BFF_ENV=prod "
        "(or BFF_ALLOW_PLAINTEXT_UPSTREAMS=true behind an encrypting mesh)"
    ]
