"""Encryption of tokens at rest, and key rotation.

Threats this stops:

* A copy of Redis (a backup, a replica, a leaked dump) must not yield IdP tokens: they are
  stored sealed with AES-256-GCM, which also detects any change to a stored value.
* A sealed value must not be replayable elsewhere: the caller's associated data (for session
  tokens, the session id) is authenticated with it, so tokens moved into another session do not
  open.
* Key rotation: ``BFF_SECRET_KEY`` seals, ``BFF_SECRET_KEY_PREVIOUS`` still opens, so no
  session is lost when the key changes.

The encryption key is derived from the operator secret with HKDF-SHA256 under its own label
(:func:`shared.platform.keys.derive_key`); keyed hashes (lookups, key names, ETags) have keys
of their own, in :mod:`shared.platform.keys`.

Sealed format (one URL-safe base64 string, no padding)::

    version (1 byte, 0x01) | key id (4 bytes) | nonce (12 random bytes) | ciphertext + GCM tag

The key id is the start of SHA-256 over the derived encryption key: it picks the key to try
without revealing anything about it. The version and key id are authenticated too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.platform.keys import derive_key

MIN_SECRET_KEY_LENGTH = 32

_VERSION = b"\x01"
_KEY_ID_LENGTH = 4
_NONCE_LENGTH = 12
_TAG_LENGTH = 16
_HEADER_LENGTH = len(_VERSION) + _KEY_ID_LENGTH
_MIN_SEALED_LENGTH = _HEADER_LENGTH + _NONCE_LENGTH + _TAG_LENGTH

_ENCRYPTION_INFO = b"bff token encryption v1"


class DecryptionError(Exception):
    """A sealed value did not open: wrong or retired key, tampering, other associated data,
    or not a sealed value at all. Deliberately says no more than that."""


class _Key:
    """Every key derived from one operator secret."""

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(f"the secret key must be at least {MIN_SECRET_KEY_LENGTH} characters")
        if len(set(secret)) < 8:
            # Catches placeholders such as "x" * 32 or "0" * 40, which are long but guessable.
            raise ValueError("the secret key must be a random string, not a repeated pattern")
        encryption_key = derive_key(secret, _ENCRYPTION_INFO)
        self.aead = AESGCM(encryption_key)
        self.key_id = hashlib.sha256(encryption_key).digest()[:_KEY_ID_LENGTH]


class TokenCipher:
    """Seals and opens with the current key; opens with the previous one too.

    Built once at start-up from ``BFF_SECRET_KEY`` and ``BFF_SECRET_KEY_PREVIOUS``; keep the
    previous key configured for at least the absolute session timeout after a rotation.
    """

    def __init__(self, current_key: str, previous_key: str | None = None) -> None:
        self._current = _Key(current_key)
        self._keys = [self._current]
        if previous_key is not None and previous_key != current_key:
            self._keys.append(_Key(previous_key))

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> str:
        """Seal ``plaintext`` so that it opens only with the same ``associated_data``."""
        header = _VERSION + self._current.key_id
        nonce = secrets.token_bytes(_NONCE_LENGTH)
        sealed = self._current.aead.encrypt(nonce, plaintext, header + associated_data)
        return base64.urlsafe_b64encode(header + nonce + sealed).rstrip(b"=").decode("ascii")

    def decrypt(self, token: str, associated_data: bytes) -> bytes:
        """Open a value from :meth:`encrypt`; raises :class:`DecryptionError` on any failure."""
        raw = _unbase64(token)
        if raw is None or len(raw) < _MIN_SEALED_LENGTH or raw[:1] != _VERSION:
            raise DecryptionError("not a sealed value")
        header = raw[:_HEADER_LENGTH]
        nonce = raw[_HEADER_LENGTH : _HEADER_LENGTH + _NONCE_LENGTH]
        sealed = raw[_HEADER_LENGTH + _NONCE_LENGTH :]
        key_id = header[len(_VERSION) :]
        # Two different keys may share a 4-byte id (1 in 2**32): then both are tried.
        for key in self._keys:
            if key.key_id != key_id:
                continue
            try:
                return key.aead.decrypt(nonce, sealed, header + associated_data)
            except InvalidTag:
                continue
        raise DecryptionError("the value does not open with the configured keys")


def new_opaque_id(nbytes: int = 32) -> str:
    """A random, unguessable identifier (session ids, one-time codes, opaque tokens)."""
    if nbytes < 16:
        raise ValueError("an opaque id needs at least 128 random bits")
    return secrets.token_urlsafe(nbytes)


def _unbase64(token: str) -> bytes | None:
    # Strict alphabet: the decoder validates (it would otherwise skip characters it does not
    # know), and the standard alphabet's "+" and "/" and any "=" are refused before it maps
    # "-" and "_" onto them. Two sealed values are opened per request, so this is done in C.
    if "+" in token or "/" in token or "=" in token:
        return None
    try:
        return base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
