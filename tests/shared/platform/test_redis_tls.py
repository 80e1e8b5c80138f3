"""Redis over TLS (``rediss://``) to a real redis-server that speaks only TLS and requires a
client certificate: the configured CA and client certificate are used, and a wrong CA or a
missing client certificate fails closed with its TLS reason."""

from __future__ import annotations

import pytest
import redis.exceptions

from shared.platform.rate_limits import close_rate_limit_storage, rate_limit_storage
from shared.platform.redis import create_redis_client
from shared.platform.settings import load_settings
from shared.platform.tls import TlsClientFiles, tls_failure_reason
from tests.fixtures.tls import Pki

pytestmark = pytest.mark.anyio


def files(pki: Pki, *, ca: str | None = None, client: bool = True) -> TlsClientFiles:
    return TlsClientFiles(
        ca_file=ca or str(pki.ca),
        client_cert_file=str(pki.client_cert) if client else None,
        client_key_file=str(pki.client_key) if client else None,
    )


async def test_rediss_uses_the_configured_ca_and_client_certificate(
    tls_redis_url: str, pki: Pki
) -> None:
    client = create_redis_client(tls_redis_url, tls=files(pki))
    try:
        await client.set("tls-check", "ok")
        assert await client.get("tls-check") == b"ok"
    finally:
        await client.aclose()


async def test_a_server_signed_by_another_ca_fails_with_the_tls_reason(
    tls_redis_url: str, pki: Pki
) -> None:
    client = create_redis_client(tls_redis_url, tls=files(pki, ca=str(pki.other_ca)))
    try:
        with pytest.raises(redis.exceptions.ConnectionError) as error:
            await client.ping()
    finally:
        await client.aclose()
    assert "certificate verify failed" in (tls_failure_reason(error.value) or "")


async def test_without_a_client_certificate_redis_refuses_every_command(
    tls_redis_url: str, pki: Pki
) -> None:
    """TLS 1.3 finishes the handshake before the server judges the client certificate: the
    refusal arrives as an alert (``TLSV13_ALERT_CERTIFICATE_REQUIRED``) or, when the server's
    reset overtakes it, as a bare reset. Either way no command runs."""
    client = create_redis_client(tls_redis_url, tls=files(pki, client=False))
    try:
        for _ in range(3):
            with pytest.raises(redis.exceptions.ConnectionError) as error:
                await client.set("written-without-a-certificate", "1")
            reason = tls_failure_reason(error.value)
            assert reason is None or "CERTIFICATE_REQUIRED" in reason
    finally:
        await client.aclose()
    trusted = create_redis_client(tls_redis_url, tls=files(pki))
    try:
        assert await trusted.exists("written-without-a-certificate") == 0
    finally:
        await trusted.aclose()


async def test_cluster_and_sentinel_clients_take_the_tls_files_too(pki: Pki) -> None:
    """Every topology gets the same TLS options for a ``rediss://`` URL (and none for
    ``redis://``, whose plain connections would refuse them)."""
    for mode, url in (
        ("cluster", "rediss://127.0.0.1:7000"),
        ("sentinel", "rediss://127.0.0.1:26379,127.0.0.1:26380/mymaster"),
    ):
        client = create_redis_client(url, mode, files(pki))  # type: ignore[arg-type]
        try:
            pool_kwargs = (
                client.get_connection_kwargs()  # type: ignore[union-attr]
                if mode == "sentinel"
                else client.nodes_manager.connection_kwargs  # type: ignore[union-attr]
            )
            assert pool_kwargs["ssl_ca_certs"] == str(pki.ca)
            assert pool_kwargs["ssl_certfile"] == str(pki.client_cert)
        finally:
            await client.aclose()
    plain = create_redis_client("redis://127.0.0.1:6379/0", tls=files(pki))
    assert "ssl_ca_certs" not in plain.get_connection_kwargs()  # type: ignore[union-attr]
    await plain.aclose()


@pytest.mark.parametrize("mode", ["cluster", "sentinel"])
async def test_the_rate_limit_counters_use_the_tls_files_too(pki: Pki, mode: str) -> None:
    """For a Cluster or Sentinel the counters have a client of their own: it gets the same CA
    and client certificate as the gateway's."""
    url = "rediss://127.0.0.1:7000" if mode == "cluster" else "rediss://127.0.0.1:26379/main"
    environ = {"BFF_REDIS_URL": url, "BFF_REDIS_MODE": mode, **pki.env("BFF_REDIS")}
    settings = load_settings("web", environ)
    redis = create_redis_client(url, settings.redis_mode, settings.redis_tls)
    storage = rate_limit_storage(settings, redis)
    try:
        options: dict[str, object] = storage.options  # type: ignore[attr-defined]
        assert options["ssl_ca_certs"] == str(pki.ca)
        assert options["ssl_certfile"] == str(pki.client_cert)
        if mode == "sentinel":
            assert storage.sentinel_kwargs["ssl_keyfile"] == str(pki.client_key)  # type: ignore[attr-defined]
    finally:
        await close_rate_limit_storage(storage)
        await redis.aclose()
