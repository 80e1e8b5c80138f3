"""What ``BFF_ENV=prod`` refuses: set-ups that are only safe on a developer's machine.

``load_settings`` reads every variable first (``shared.platform.settings``), then hands the
result here; each refusal is one ``ConfigError`` line naming its variable, as for any bad value.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from shared.platform.env_reader import ConfigError, EnvReader

if TYPE_CHECKING:
    from shared.platform.settings import Settings

MIN_METRICS_TOKEN_LENGTH = 24
DEV_CLIENT_SECRET_PREFIX = "dev-secret-"  # noqa: S105
DEV_SECRET_KEY = "dev-only-secret-key-never-use-in-production-0123456789"  # noqa: S105
"""The dev default of ``BFF_SECRET_KEY``; refused when BFF_ENV=prod."""


def refuse_unsafe_production(settings: Settings, reader: EnvReader) -> None:
    """Production refuses set-ups that are only safe on a developer's machine."""
    if urlsplit(settings.public_url).scheme != "https":
        raise ConfigError("BFF_PUBLIC_URL", "must be https when BFF_ENV=prod")
    if reader.raw("BFF_SECRET_KEY") == DEV_SECRET_KEY:
        raise ConfigError("BFF_SECRET_KEY", "is the development key; set a real secret")
    if urlsplit(settings.oidc_issuer).scheme != "https":
        raise ConfigError("BFF_OIDC_ISSUER", "must be https when BFF_ENV=prod")
    refuse_unshared_workers(settings, settings.workers)
    for origin in settings.allowed_origins:
        if urlsplit(origin).scheme != "https":
            raise ConfigError("BFF_ALLOWED_ORIGINS", f"{origin!r} must be https when BFF_ENV=prod")
    if settings.oidc_client_secret.startswith(DEV_CLIENT_SECRET_PREFIX):
        raise ConfigError("BFF_OIDC_CLIENT_SECRET", "is a development secret; set the real one")
    if urlsplit(settings.post_logout_redirect_url).scheme != "https":
        raise ConfigError("BFF_POST_LOGOUT_REDIRECT_URL", "must be https when BFF_ENV=prod")
    _refuse_plaintext_core_services(settings)
    _refuse_plaintext_remote_apis(settings)
    plaintext_redis_allowed = settings.redis_allow_plaintext or settings.allow_plaintext_upstreams
    if settings.redis_url is not None and not plaintext_redis_allowed:
        _refuse_plaintext_redis(settings.redis_url)
    if settings.metrics_token is not None and len(settings.metrics_token) < (
        MIN_METRICS_TOKEN_LENGTH
    ):
        raise ConfigError(
            "BFF_METRICS_TOKEN",
            f"must be at least {MIN_METRICS_TOKEN_LENGTH} characters when BFF_ENV=prod",
        )


def _refuse_plaintext_redis(url: str) -> None:
    """Sessions and tokens cross the network to Redis: in production only over TLS
    (``rediss://``), unless every host is this machine or the operator says otherwise."""
    parts = urlsplit(url)
    if parts.scheme == "rediss":
        return
    # Sentinel URLs list several hosts: ``redis://s1:26379,s2:26379/name``.
    locations = parts.netloc.rsplit("@", 1)[-1].split(",")
    hosts = [urlsplit(f"//{location}").hostname or "" for location in locations]
    if not all(_is_loopback_host(host) for host in hosts):
        raise ConfigError(
            "BFF_REDIS_URL",
            "must be rediss:// (TLS) for a host other than this machine when BFF_ENV=prod "
            "(or set BFF_REDIS_ALLOW_PLAINTEXT=true)",
        )


def _refuse_plaintext_core_services(settings: Settings) -> None:
    """Core services off this host are reached over TLS in production.

    ``BFF_ALLOW_PLAINTEXT_UPSTREAMS=true`` lifts this (and the same rule for Redis) for a
    service mesh whose sidecars do the mutual TLS. Loopback hosts (a sidecar) never leave the
    machine and are always allowed. The issuer is checked on its own above: browsers are sent
    to it, so it is https whatever these say.
    """
    if settings.allow_plaintext_upstreams:
        return
    for service in settings.core:
        parts = urlsplit(service.url)
        if parts.scheme != "https" and not _is_loopback_host(parts.hostname or ""):
            raise ConfigError(
                f"BFF_CORE_{service.name.upper()}_URL",
                "must be https when BFF_ENV=prod "
                "(or BFF_ALLOW_PLAINTEXT_UPSTREAMS=true behind an encrypting mesh)",
            )


def _refuse_plaintext_remote_apis(settings: Settings) -> None:
    """A remote API receives the user's access token: in production over TLS, by the same
    rule as the core services (loopback, or an encrypting mesh the operator names, excepted)."""
    if settings.allow_plaintext_upstreams:
        return
    for index, api in enumerate(settings.remote_apis, start=1):
        parts = urlsplit(api.upstream)
        if parts.scheme != "https" and not _is_loopback_host(parts.hostname or ""):
            raise ConfigError(
                "BFF_REMOTE_APIS_FILE",
                f"api[{index}].upstream: must be https when BFF_ENV=prod "
                "(or BFF_ALLOW_PLAINTEXT_UPSTREAMS=true behind an encrypting mesh)",
            )


def _is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_unshared_workers(settings: Settings, workers: int) -> None:
    """Production with several workers needs Redis: each process's memory stores are its own.

    Checked at load for ``BFF_WORKERS`` and again by ``bff serve`` for ``--workers``, which can
    only be known once the command line is read.
    """
    if settings.is_prod and settings.redis_url is None and workers > 1:
        raise ConfigError(
            "BFF_REDIS_URL",
            "is required when BFF_ENV=prod runs more than one worker "
            "(in-memory sessions are not shared between processes)",
        )
