"""The settings sections that have a module's worth of rules of their own: authorization
(``BFF_AUTHZ_*``) and the TLS files of each upstream (``BFF_CORE_*``, ``BFF_OIDC_*`` and
``BFF_REDIS_*`` ``_CA_FILE``, ``_CLIENT_CERT_FILE``, ``_CLIENT_KEY_FILE``).
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from typing import Literal, cast

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
