"""The remote APIs a gateway forwards to (``BFF_REMOTE_APIS_FILE``): read once, checked at start.

The file is TOML, one ``[[api]]`` table per API, parsed with the standard library's ``tomllib``
and checked with msgspec (unknown keys refused). Every problem is one ``ConfigError`` line that
names the variable and the entry, ``BFF_REMOTE_APIS_FILE: api[2].upstream: ...``, so a bad
entry stops start-up as any bad setting does (exit 2, ``bff config check`` shows it).

What an entry means at run time is ``shared.remote``; here is only what may be declared:

* ``path`` lies under the gateway's own prefix (``/api/remote/`` on the web,
  ``/m/v1/remote/`` on mobile), and no path lies under another's;
* ``upstream`` is an absolute http(s) URL without credentials, query or fragment;
* ``token`` is ``user``, ``client`` or ``none``, and ``scopes`` go with ``client`` only;
* ``forward_headers`` may not name a header the gateway owns or never forwards
  (``Cookie``, ``Authorization``, ``X-CSRF``, hop-by-hop headers, the trace and deadline headers).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import msgspec

from shared.platform.env_reader import ConfigError, EnvReader

VARIABLE = "BFF_REMOTE_APIS_FILE"
TokenKind = Literal["user", "client", "none"]
REMOTE_PREFIXES = {"web": "/api/remote/", "mobile": "/m/v1/remote/"}
"""Where each gateway's remote APIs live: one prefix, so no declaration can shadow a screen."""
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MAX_REQUEST_BYTES = 256 * 1024 * 1024
MAX_RETRIES = 5
HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
"""RFC 9110 section 7.6.1, with the ``Keep-Alive`` and ``Proxy-Connection`` of older clients."""
NEVER_FORWARDED_HEADERS = HOP_BY_HOP_HEADERS | {
    "cookie",
    "authorization",
    "dpop",
    "x-csrf",
    "host",
    "x-request-id",
    "x-deadline-ms",
    "traceparent",
    "tracestate",
    "baggage",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-app-version",
}
"""Headers of the caller that never reach an upstream, whatever ``forward_headers`` says: its
credentials with the gateway, what the gateway sets itself, and what would let a caller claim
another address or trace."""

_PATH_SEGMENT = re.compile(r"[a-z0-9][a-z0-9._-]*")
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


class _PolicyEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    roles: list[str] = []
    scopes: list[str] = []
    max_auth_age: int | None = None


class _ApiEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    path: str
    upstream: str
    token: TokenKind = "user"  # noqa: S105 (which token, not a secret)
    name: str | None = None
    scopes: list[str] = []
    policy: _PolicyEntry = _PolicyEntry()
    timeout: float = DEFAULT_TIMEOUT_S
    retries: int = 0
    forward_headers: list[str] = []
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES


class _File(msgspec.Struct, forbid_unknown_fields=True):
    api: list[_ApiEntry] = []


@dataclass(frozen=True, kw_only=True)
class RemoteApiSettings:
    """One declared remote API, checked. Times in seconds."""

    name: str
    """Names its breaker, metrics and logs; never a host. Defaults to the path under the prefix."""
    path: str
    upstream: str
    token: TokenKind = "user"  # noqa: S105 (which token, not a secret)
    client_scopes: tuple[str, ...] = ()
    """The scopes of the client-credentials token (``token = "client"`` only)."""
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    """What the caller's session must hold (the route policy), not what is asked of the IdP."""
    max_auth_age_s: int | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = 0
    forward_headers: tuple[str, ...] = ()
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES


def remote_apis(reader: EnvReader, gateway: str) -> tuple[RemoteApiSettings, ...]:
    """The APIs ``BFF_REMOTE_APIS_FILE`` declares for ``gateway`` (none when it is not set)."""
    file_name = reader.raw(VARIABLE)
    if file_name is None:
        return ()
    try:
        document = tomllib.loads(Path(file_name).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(VARIABLE, f"cannot read {file_name!r} ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(VARIABLE, f"{file_name!r} is not TOML ({exc})") from None
    entries = document.get("api", [])
    if set(document) - {"api"} or not isinstance(entries, list):
        raise ConfigError(VARIABLE, "holds [[api]] tables only")
    apis: list[RemoteApiSettings] = []
    for index, raw in enumerate(entries, start=1):
        try:
            entry = msgspec.convert(raw, _ApiEntry, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(VARIABLE, _readable(exc, f"api[{index}]")) from None
        apis.append(_checked(entry, f"api[{index}]", REMOTE_PREFIXES[gateway]))
    _refuse_overlaps(apis)
    return tuple(apis)


def _readable(exc: msgspec.ValidationError, where: str) -> str:
    """msgspec's message with its ``$.key`` path written after the entry: ``api[2].timeout:
    Expected `float`, got `str```."""
    text = str(exc)
    match = re.search(r" - at `\$\.?(.*)`$", text)
    if match is None:
        return f"{where}: {text}"
    key = f"{where}.{match.group(1)}" if match.group(1) else where
    return f"{key}: {text[: match.start()]}"


def _checked(entry: _ApiEntry, where: str, prefix: str) -> RemoteApiSettings:
    def refuse(key: str, problem: str) -> ConfigError:
        return ConfigError(VARIABLE, f"{where}.{key}: {problem}")

    path = entry.path
    segments = path.removeprefix(prefix).split("/")
    if not path.startswith(prefix) or not all(_PATH_SEGMENT.fullmatch(s) for s in segments):
        raise refuse("path", f"must be {prefix}<name>[/<name>...] in lower case, without a final /")
    parts = urlsplit(entry.upstream)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refuse("upstream", f"must be an absolute http or https URL, got {entry.upstream!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise refuse("upstream", "must not carry credentials, a query or a fragment")
    if entry.scopes and entry.token != "client":  # noqa: S105 (a kind)
        raise refuse("scopes", 'is only for token = "client" (the client-credentials grant)')
    if not 0 < entry.timeout <= 300:
        raise refuse("timeout", f"must be more than 0 and at most 300 seconds, got {entry.timeout}")
    if not 0 <= entry.retries <= MAX_RETRIES:
        raise refuse("retries", f"must be between 0 and {MAX_RETRIES}, got {entry.retries}")
    if entry.max_request_bytes < 0:
        raise refuse("max_request_bytes", "must not be negative")
    if entry.policy.max_auth_age is not None and entry.policy.max_auth_age < 0:
        raise refuse("policy.max_auth_age", "must not be negative")
    headers = tuple(name.lower() for name in entry.forward_headers)
    for header in headers:
        if not _HEADER_NAME.fullmatch(header):
            raise refuse("forward_headers", f"{header!r} is not a header name")
        if header in NEVER_FORWARDED_HEADERS:
            raise refuse("forward_headers", f"{header!r} is never forwarded")
    name = entry.name if entry.name is not None else "-".join(segments)
    if not _NAME.fullmatch(name):
        raise refuse("name", f"must be lower-case letters, digits, - or _, got {name!r}")
    return RemoteApiSettings(
        name=name,
        path=path,
        upstream=entry.upstream.rstrip("/"),
        token=entry.token,
        client_scopes=tuple(entry.scopes),
        roles=tuple(entry.policy.roles),
        scopes=tuple(entry.policy.scopes),
        max_auth_age_s=entry.policy.max_auth_age,
        timeout_s=entry.timeout,
        retries=entry.retries,
        forward_headers=headers,
        max_request_bytes=entry.max_request_bytes,
    )


def _refuse_overlaps(apis: list[RemoteApiSettings]) -> None:
    """Two APIs may not share a name (their breakers and metrics would mix) and no path may lie
    under another (which one a request meant would depend on routing order)."""
    for later, api in enumerate(apis):
        for earlier, other in enumerate(apis[:later]):
            where = f"api[{later + 1}]"
            if api.name == other.name:
                raise ConfigError(VARIABLE, f"{where}.name: {api.name!r} is api[{earlier + 1}]'s")
            if (api.path + "/").startswith(other.path + "/") or (other.path + "/").startswith(
                api.path + "/"
            ):
                raise ConfigError(
                    VARIABLE, f"{where}.path: overlaps api[{earlier + 1}]'s {other.path!r}"
                )
