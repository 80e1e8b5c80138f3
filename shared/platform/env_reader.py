"""Reading the environment one variable at a time, so every bad value stops start-up with one
line that names its variable (``ConfigError``). ``shared.platform.settings`` says which variables
there are; this says how a value is read: a secret from ``NAME_FILE`` instead of ``NAME``,
numbers within bounds, flags, rates, networks, URLs, readable files.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from limits import RateLimitItem, parse


class ConfigError(Exception):
    """A bad setting; ``str()`` is the one line shown to the operator."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class EnvReader:
    """Reads and validates one variable at a time, so each error can name its variable."""

    def __init__(self, environ: Mapping[str, str], secret_variables: frozenset[str]) -> None:
        self.environ = environ
        self.secret_variables = secret_variables

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        file_name = self.environ.get(f"{name}_FILE") if name in self.secret_variables else None
        if value is not None and file_name is not None:
            raise ConfigError(name, f"set either {name} or {name}_FILE, not both")
        if file_name is not None:
            try:
                return Path(file_name).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"{name}_FILE", f"cannot read {file_name!r} ({exc.strerror})"
                ) from None
        if value is None:
            return None
        value = value.strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, default).lower()
        if value not in allowed:
            raise ConfigError(name, f"must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def number(self, name: str, default: float, *, minimum: float, maximum: float) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(name, f"must be a number, got {value!r}") from None
        if not minimum <= number <= maximum:
            raise ConfigError(name, f"must be between {minimum:g} and {maximum:g}, got {value}")
        return number

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(name, f"must be a whole number, got {value!r}") from None
        if not minimum <= number <= maximum:
            raise ConfigError(name, f"must be between {minimum} and {maximum}, got {value}")
        return number

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() not in ("true", "false"):
            raise ConfigError(name, f"must be true or false, got {value!r}")
        return value.lower() == "true"

    def rate(self, name: str, default: str) -> str | None:
        """A rate such as ``30/minute`` (the ``limits`` notation), or None for ``off``."""
        value = self.text(name, default)
        if value.lower() == "off":
            return None
        try:
            item: RateLimitItem = parse(value)
        except ValueError:
            raise ConfigError(
                name, f"must be a rate such as 30/minute (or off), got {value!r}"
            ) from None
        if item.amount < 1:
            raise ConfigError(name, f"must allow at least one request, got {value!r}")
        return value

    def networks(self, name: str) -> tuple[str, ...]:
        """A comma list of CIDRs (``10.0.0.0/8, ::1``), kept in their normal form."""
        value = self.raw(name)
        if value is None:
            return ()
        networks = []
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ConfigError(name, f"{item!r} is not an IP network (CIDR)") from None
        return tuple(networks)

    def readable_file(self, name: str) -> str | None:
        path = self.raw(name)
        if path is not None and not os.access(path, os.R_OK):
            raise ConfigError(name, f"cannot read {path!r}")
        return path

    def url(
        self,
        name: str,
        default: str,
        *,
        schemes: tuple[str, ...] = ("http", "https"),
        strip_slash: bool = True,
    ) -> str:
        value = self.text(name, default)
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            raise ConfigError(name, f"must be an absolute {'/'.join(schemes)} URL, got {value!r}")
        return value.rstrip("/") if strip_slash else value

    def url_list(self, name: str, *, schemes: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return ()
        items = tuple(item.strip() for item in value.split(",") if item.strip())
        for item in items:
            parts = urlsplit(item)
            if not parts.scheme or (schemes is not None and parts.scheme not in schemes):
                raise ConfigError(name, f"{item!r} is not an allowed absolute URL")
            if parts.scheme in ("http", "https") and not parts.hostname:
                raise ConfigError(name, f"{item!r} has no host")
        return items
