"""A mobile session's token family: its current pair by hash, and the pair it replaced.

Kept in the session record's ``extra[FAMILY_KEY]``. The current hashes tell a current token
from a rotated-out one; ``previous_refresh_hash`` and ``rotated_at`` let the reuse window
(``shared.identity.refresh_reuse``) recognise the token the last rotation replaced.
"""

from __future__ import annotations

from typing import Any

import msgspec

from shared.identity.records import SessionRecord

FAMILY_KEY = "token_family"


class TokenFamily(msgspec.Struct, frozen=True):
    """The session's current pair, by hash: what tells a current token from a rotated-out one."""

    generation: int
    refresh_hash: str
    access_hash: str
    access_expires_at: float
    previous_refresh_hash: str = ""
    """The refresh token the last rotation replaced ("" before the first rotation)."""
    rotated_at: float = 0.0
    jkt: str = ""
    """The thumbprint of the DPoP key the session is bound to ("" for a Bearer session): set at
    code redemption and carried through every rotation (``shared.identity.app_proofs``)."""


def read_family(record: SessionRecord) -> TokenFamily | None:
    try:
        return msgspec.convert(record.extra.get(FAMILY_KEY), TokenFamily)
    except msgspec.ValidationError:
        return None


def with_family(extra: dict[str, Any], family: TokenFamily) -> dict[str, Any]:
    return {**extra, FAMILY_KEY: msgspec.to_builtins(family)}
