"""Encryption of tokens at rest, keyed hashes for lookups, and key rotation.

Threats this stops:

* A copy of Redis (a backup, a replica, a leaked dump) must not yield IdP tokens: they are
  stored sealed with AES-256-GCM, which also detects any change to a stored value.
* A sealed value must not be replayable elsewhere: the caller's associated data (for session
  tokens, the session id) is authenticated with it, so tokens moved into another session do not
  open.
* Bearer secrets the gateways hand out (mobile access and refresh tokens) and personal data in
  key names (a user's ``sub``) are stored as keyed hashes (HMAC-SHA256): a reader of the store
  can neither use them nor, for low-entropy values such as an email address, guess them.
* Key rotation: ``BFF_SECRET_KEY`` seals and hashes, ``BFF_SECRET_KEY_PREVIOUS`` still opens
  and is offered as a second hash candidate, so no session is lost when the key changes.

Each operator secret is stretched with HKDF-SHA256 into one independent 256-bit key per
purpose (the HKDF ``info`` names the purpose), so a key is never used for two jobs.

Sealed format (one URL-safe base64 string, no padding)::

    version (1 byte, 0x01) | key id (4 bytes) | nonce (12 random bytes) | ciphertext + GCM tag

The key id is the start of SHA-256 over the derived encryption key: it picks the key to try
without revealing anything about it. The version and key id are authenticated too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_SECRET_KEY_LENGTH = 32

HashPurpose = Literal["token", "key-name"]

_VERSION = b"\x01"
_KEY_ID_LENGTH = 4
_NONCE_LENGTH = 12
_TAG_LENGTH = 16
_HEADER_LENGTH = len(_VERSION) + _KEY_ID_LENGTH
_MIN_SEALED_LENGTH = _HEADER_LENGTH + _NONCE_LENGTH + _TAG_LENGTH
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

_ENCRYPTION_INFO = b"bff token encryption v1"
_HASH_INFO: dict[HashPurpose, bytes] = {
    "token": b"bff token lookup hash v1",
    "key-name": b"bff key name hash v1",
}


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
        encryption_key = _derive(secret, _ENCRYPTION_INFO)
        self.aead = AESGCM(encryption_key)
        self.key_id = hashlib.sha256(encryption_key).digest()[:_KEY_ID_LENGTH]
        self.hash_keys = {purpose: _derive(secret, info) for purpose, info in _HASH_INFO.items()}


def _derive(secret: str, info: bytes) -> bytes:
    # No salt: the input is already a high-entropy secret, which is what HKDF-Extract needs.
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(secret.encode())


class TokenCipher:
    """Seals, opens and hashes with the current key; opens and hashes with the previous one too.

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

    def hash_token(self, value: str, purpose: HashPurpose = "token") -> str:
        """Keyed hash (HMAC-SHA256, 64 hex digits) of ``value`` with the current key.

        ``purpose`` picks an independent key: "token" to store and look up bearer secrets,
        "key-name" to put identifiers such as a user's ``sub`` into storage key names.
        """
        return _hmac_hex(self._current.hash_keys[purpose], value)

    def hash_token_candidates(self, value: str, purpose: HashPurpose = "token") -> list[str]:
        """The hashes to look ``value`` up by: current key first, then the previous one."""
        return [_hmac_hex(key.hash_keys[purpose], value) for key in self._keys]


def new_opaque_id(nbytes: int = 32) -> str:
    """A random, unguessable identifier (session ids, one-time codes, opaque tokens)."""
    if nbytes < 16:
        raise ValueError("an opaque id needs at least 128 random bits")
    return secrets.token_urlsafe(nbytes)


def _hmac_hex(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def _unbase64(token: str) -> bytes | None:
    # Strict alphabet check first: the stdlib decoder silently skips characters it does not know.
    if not _BASE64URL.fullmatch(token):
        return None
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
