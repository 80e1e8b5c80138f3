"""Declaring remote APIs for a test gateway, and reading what the echo upstream saw."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import msgspec


def toml_value(value: Any) -> str:
    """A TOML value for the few types a declaration uses (JSON's spelling is TOML's here)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return msgspec.json.encode(value).decode()


def remote_apis_file(directory: Path, *entries: dict[str, Any]) -> str:
    """A ``BFF_REMOTE_APIS_FILE`` with one ``[[api]]`` table per entry; returns its path."""
    lines: list[str] = []
    for entry in entries:
        lines.append("[[api]]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in entry.items())
    path = directory / "remote-apis.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def echo_stats(stubs_url: str) -> dict[str, Any]:
    response = httpx.get(f"{stubs_url}/_echo")
    response.raise_for_status()
    stats: dict[str, Any] = response.json()
    return stats


def reset_echo(stubs_url: str) -> None:
    httpx.delete(f"{stubs_url}/_echo").raise_for_status()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def chunks(total: int, size: int = 1 << 16) -> Any:
    """``total`` bytes as a generator of chunks, so the test client streams them too."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece
