"""Keyed hashing: every identifier derived from a user or a secret comes from here.

Storage key names, cache keys, ETags, public session ids, bearer-token lookups: each is an
HMAC-SHA256 under a key of its own, derived with HKDF from ``BFF_SECRET_KEY`` (the HKDF
``info`` names the purpose). So

* a reader of Redis, a log or an ETag cannot guess a low-entropy input (a ``sub`` that is an
  email address) by hashing candidates, since it lacks the key;
* an identifier made for one purpose is useless for another (an ETag never equals a key name);
* rotation loses nothing: ``BFF_SECRET_KEY_PREVIOUS`` still gives a second candidate, and
  lookups try the candidates in order.

Parts are length-prefixed before hashing, so ``("ab", "c")`` and ``("a", "bc")`` differ.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal, get_args

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

Purpose = Literal[
    "token",
    "key-name",
    "session-key",
    "public-session-id",
    "one-time",
    "lock",
    "cache-user",
    "etag",
    "rate-limit",
    "idempotency-key",
    "client-token",
]
"""What a hash is for; each purpose has its own derived key.

* ``token``: look up a bearer secret the gateway handed out (mobile tokens, used codes).
* ``key-name``: put a user's ``sub`` or an IdP ``sid`` into a storage key name.
* ``session-key``: put a session id into a storage key name.
* ``public-session-id``: the session id a client may see (sessions list, logout link).
* ``one-time``: name a one-time value or replay marker (login state, logout-token ``jti``).
* ``lock``: name a lock held for a session (token refresh).
* ``cache-user``: the user part of a per-user cache key.
* ``etag``: a validator bound to the user and the bytes sent.
* ``rate-limit``: name the caller (session or address) a request rate is counted for.
* ``idempotency-key``: the ``Idempotency-Key`` sent to a core service, bound to the user.
* ``client-token``: name the gateway's client-credentials token (client id and scopes).
"""

PURPOSES: tuple[Purpose, ...] = get_args(Purpose)

_INFO: dict[Purpose, bytes] = {
    purpose: b"bff keyed hash v2 " + purpose.encode() for purpose in PURPOSES
}

Part = str | bytes


def derive_key(secret: str, info: bytes) -> bytes:
    """A 256-bit key for one purpose from an operator secret (HKDF-SHA256).

    No salt: the input is already a high-entropy secret, which is what HKDF-Extract needs.
    """
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(secret.encode())


class KeyedHasher:
    """Keyed hashes with the current secret; candidates with the previous one too."""

    def __init__(self, secret: str, previous_secret: str | None = None) -> None:
        secrets = [secret]
        if previous_secret is not None and previous_secret != secret:
            secrets.append(previous_secret)
        self._keys: list[dict[Purpose, bytes]] = [
            {purpose: derive_key(s, info) for purpose, info in _INFO.items()} for s in secrets
        ]

    def hex(self, purpose: Purpose, *parts: Part) -> str:
        """64 hex digits under the current key: for key names and lookups."""
        return _mac(self._keys[0][purpose], parts).hex()

    def hex_candidates(self, purpose: Purpose, *parts: Part) -> list[str]:
        """What to look ``parts`` up by: the current key's hash first, then the previous one's."""
        return [_mac(keys[purpose], parts).hex() for keys in self._keys]

    def short(self, purpose: Purpose, *parts: Part) -> str:
        """24 URL-safe characters (144 bits) under the current key: for ids a client sees."""
        return _short(_mac(self._keys[0][purpose], parts))

    def short_candidates(self, purpose: Purpose, *parts: Part) -> list[str]:
        return [_short(_mac(keys[purpose], parts)) for keys in self._keys]


def _mac(key: bytes, parts: tuple[Part, ...]) -> bytes:
    if not parts:
        raise ValueError("a keyed hash needs at least one part")
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        mac.update(len(data).to_bytes(8, "big"))
        mac.update(data)
    return mac.digest()


def _short(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")
