"""The settings sections that have a module's worth of rules of their own: authorization
(``BFF_AUTHZ_*``), the TLS files of each upstream (``BFF_CORE_*``, ``BFF_OIDC_*`` and
``BFF_REDIS_*`` ``_CA_FILE``, ``_CLIENT_CERT_FILE``, ``_CLIENT_KEY_FILE``), and the IdP client's
signing keys for ``private_key_jwt`` (``BFF_OIDC_CLIENT_KEY*``).
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from shared.platform.env_reader import ConfigError, EnvReader
from shared.platform.tls import TlsClientFiles


@dataclass(frozen=True, kw_only=True)
class AuthzSettings:
    """Where roles come from and what the admin routes ask for (``BFF_AUTHZ_*``)."""

    roles_claim: tuple[str, ...] = ("roles",)
    """The path to the roles claim: ``realm_access.roles`` is two steps."""
    roles_source: Literal["id_token", "userinfo"] = "id_token"
    support_role: str = "support"
    step_up_max_age_s: int = 600


_CLAIM_STEP = re.compile(r"[A-Za-z0-9_:/-]+")


def authz_settings(reader: EnvReader) -> AuthzSettings:
    claim = reader.text("BFF_AUTHZ_ROLES_CLAIM", "roles")
    path = tuple(claim.split("."))
    if not all(_CLAIM_STEP.fullmatch(step) for step in path):
        raise ConfigError(
            "BFF_AUTHZ_ROLES_CLAIM", f"must be a claim name or dotted path, got {claim!r}"
        )
    support_role = reader.text("BFF_AUTHZ_SUPPORT_ROLE", "support")
    if any(char.isspace() for char in support_role):
        raise ConfigError("BFF_AUTHZ_SUPPORT_ROLE", "must be one role name without spaces")
    source = reader.choice("BFF_AUTHZ_ROLES_SOURCE", "id_token", ("id_token", "userinfo"))
    return AuthzSettings(
        roles_claim=path,
        roles_source=cast(Literal["id_token", "userinfo"], source),
        support_role=support_role,
        step_up_max_age_s=reader.integer(
            "BFF_AUTHZ_STEP_UP_MAX_AGE", 600, minimum=0, maximum=86400
        ),
    )


def tls_files(reader: EnvReader, prefix: str, *, client_certificate: bool) -> TlsClientFiles:
    """``<prefix>_CA_FILE`` and, for mutual TLS, ``<prefix>_CLIENT_CERT_FILE`` with
    ``<prefix>_CLIENT_KEY_FILE``; each file is loaded once here, so a wrong one stops start-up
    naming its variable instead of failing the first connection."""
    ca_name = f"{prefix}_CA_FILE"
    ca_file = reader.readable_file(ca_name)
    if ca_file is not None:
        try:
            ssl.create_default_context(cafile=ca_file)
        except (ssl.SSLError, ValueError):
            raise ConfigError(ca_name, f"{ca_file!r} holds no PEM CA certificate") from None
    if not client_certificate:
        return TlsClientFiles(ca_file=ca_file)
    cert_name, key_name = f"{prefix}_CLIENT_CERT_FILE", f"{prefix}_CLIENT_KEY_FILE"
    cert_file, key_file = reader.readable_file(cert_name), reader.readable_file(key_name)
    if (cert_file is None) != (key_file is None):
        missing = key_name if key_file is None else cert_name
        raise ConfigError(missing, f"is required with {cert_name if cert_file else key_name}")
    files = TlsClientFiles(ca_file=ca_file, client_cert_file=cert_file, client_key_file=key_file)
    if cert_file is not None:
        try:
            files.client_context()
        except ssl.SSLError:
            raise ConfigError(
                cert_name, f"{cert_file!r} is not a PEM certificate matching {key_name}"
            ) from None
    return files


ClientAuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
MIN_RSA_CLIENT_KEY_BITS = 2048


def client_keys(reader: EnvReader, client_auth: ClientAuthMethod) -> tuple[str | None, str | None]:
    """The client's signing key (``BFF_OIDC_CLIENT_KEY`` or ``_FILE``) and the previous one
    (``BFF_OIDC_CLIENT_KEY_FILE_PREVIOUS``), each refused unless EC P-256 or RSA >= 2048.

    A key may be set without ``private_key_jwt``: it is then only published, so the IdP can
    register the JWKS before the client switches."""
    current_name = (
        "BFF_OIDC_CLIENT_KEY_FILE"
        if reader.environ.get("BFF_OIDC_CLIENT_KEY_FILE") is not None
        else "BFF_OIDC_CLIENT_KEY"
    )
    current = reader.raw("BFF_OIDC_CLIENT_KEY")
    if current is None and client_auth == "private_key_jwt":
        raise ConfigError(
            "BFF_OIDC_CLIENT_KEY_FILE", "is required when BFF_OIDC_CLIENT_AUTH=private_key_jwt"
        )
    if current is not None:
        _check_client_key(current_name, current)
    previous_name = "BFF_OIDC_CLIENT_KEY_FILE_PREVIOUS"
    previous_file = reader.raw(previous_name)
    previous = None
    if previous_file is not None:
        try:
            previous = Path(previous_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                previous_name, f"cannot read {previous_file!r} ({exc.strerror})"
            ) from None
        _check_client_key(previous_name, previous)
        if current is None:
            raise ConfigError(previous_name, "needs a current key (BFF_OIDC_CLIENT_KEY_FILE)")
    return current, previous


def _check_client_key(name: str, pem: str) -> None:
    """Refuse anything but an unencrypted PEM EC P-256 or RSA (>= 2048 bits) private key."""
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(name, "is not an unencrypted PEM private key") from None
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= MIN_RSA_CLIENT_KEY_BITS:
        return
    raise ConfigError(
        name, f"must be an EC P-256 or RSA (>= {MIN_RSA_CLIENT_KEY_BITS} bits) private key"
    )
