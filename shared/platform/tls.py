"""TLS towards the gateways' upstreams (core services, IdP, Redis): whom to trust, what to show,
and how to say why a connection was refused.

A ``TlsClientFiles`` is what the operator configured for one kind of upstream: a CA bundle (the
system store when unset) and an optional client certificate and key for mutual TLS. The
context built from it verifies the peer's chain and host name, always: nothing here can turn
verification off, and no caller falls back to plain text when TLS fails.

``tls_failure_reason`` digs the ``ssl`` error out of whatever a client library raised (httpx,
aiohttp and redis-py each wrap it their own way), so a refused connection is logged with its
real cause ("certificate has expired", "TLSV13_ALERT_CERTIFICATE_REQUIRED"), never as a
generic "unreachable".
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Final

_MAX_CHAIN_DEPTH: Final = 16
_WRAPPED_ERROR_ATTRIBUTES: Final = ("certificate_error", "os_error")
"""Where aiohttp keeps the underlying error besides the exception chain."""


@dataclass(frozen=True, kw_only=True)
class TlsClientFiles:
    """Trust and identity for connections to one kind of upstream (PEM files)."""

    ca_file: str | None = None
    """Only these CAs are trusted; unset: the system store."""
    client_cert_file: str | None = None
    client_key_file: str | None = None
    """Both or neither: presented when the upstream asks for a client certificate."""

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context (TLS 1.2 or later, host name checked).

        Raises ``OSError`` (``ssl.SSLError`` included) when a file cannot be read or used;
        the settings reader turns that into a line naming the variable.
        """
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.client_cert_file is not None:
            context.load_cert_chain(self.client_cert_file, self.client_key_file)
        return context


def tls_failure_reason(exc: BaseException) -> str | None:
    """Why TLS failed under ``exc``, or None when no TLS error is inside it.

    A failed verification gives OpenSSL's verify message ("self-signed certificate in
    certificate chain", "certificate has expired", "IP address mismatch, …"); an alert from the
    peer gives its reason ("TLSV13_ALERT_CERTIFICATE_REQUIRED" for a refused client
    certificate).
    """
    error = _find_ssl_error(exc)
    if error is None:
        return None
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return f"certificate verify failed: {error.verify_message}"
    reason = getattr(error, "reason", None)
    return str(reason) if reason else type(error).__name__


def tls_log_fields(exc: BaseException) -> dict[str, str]:
    """``{"tls_reason": …}`` for a log line when TLS is why ``exc`` happened, else nothing."""
    reason = tls_failure_reason(exc)
    return {} if reason is None else {"tls_reason": reason}


def _find_ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The ``ssl`` module's own error if there is one (aiohttp's wrappers subclass
    ``ssl.SSLError`` too, without OpenSSL's details), else the first wrapper."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    found: list[ssl.SSLError] = []
    while pending and len(seen) < _MAX_CHAIN_DEPTH:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            if type(current).__module__ == "ssl":
                return current
            found.append(current)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
        for attribute in _WRAPPED_ERROR_ATTRIBUTES:
            wrapped = getattr(current, attribute, None)
            if isinstance(wrapped, BaseException):
                pending.append(wrapped)
    return found[0] if found else None
