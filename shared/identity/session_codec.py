"""How a session record is sealed, stored and read back, the same for every store.

* **A copy of the store must not log anyone in.** The IdP tokens are one AEAD blob
  (:mod:`shared.platform.crypto`) whose associated data is the session id, so they cannot be
  moved into another session; the record holds its own id only sealed (bound to its ``sub``), so
  a copy of Redis cannot be turned into a session cookie.
* **Bad data is never a 500.** A record that does not decode or whose tokens do not open
  (tampered, or its key was retired) decodes to ``None``; the stores delete it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from shared.identity.records import (
    MIN_SESSION_ID_LENGTH,
    EncryptedTokens,
    SessionAccess,
    SessionKind,
    SessionRecord,
    TokenSet,
)
from shared.platform.crypto import DecryptionError, TokenCipher, new_opaque_id
from shared.platform.logging import get_logger

_TOKENS_AD = b"bff session tokens\x00"
_SESSION_ID_AD = b"bff session id\x00"
RECORD_FIELDS: tuple[str, ...] = SessionRecord.__struct_fields__

_logger = get_logger("bff.sessions")


class SessionCodec:
    """Seals and opens the parts of a record that must not be readable from the store."""

    def __init__(self, cipher: TokenCipher) -> None:
        self.cipher = cipher

    def seal_tokens(self, session_id: str, tokens: TokenSet) -> EncryptedTokens:
        return EncryptedTokens(
            self.cipher.encrypt(msgspec.msgpack.encode(tokens), _TOKENS_AD + session_id.encode())
        )

    def open_tokens(self, record: SessionRecord) -> TokenSet:
        """The record's tokens in clear; raises ``DecryptionError`` if they do not open.

        Records read from a store have been checked, so this fails only if the keys changed since.
        """
        return self.open_sealed_tokens(record.id, record.tokens)

    def open_sealed_tokens(self, session_id: str, sealed: EncryptedTokens) -> TokenSet:
        """Tokens sealed for ``session_id``, without the rest of its record."""
        plaintext = self.cipher.decrypt(sealed.ciphertext, _TOKENS_AD + session_id.encode())
        try:
            return msgspec.msgpack.decode(plaintext, type=TokenSet)
        except msgspec.DecodeError as exc:
            raise DecryptionError("the sealed tokens are not a token set") from exc

    def new_record(
        self,
        *,
        kind: SessionKind,
        sub: str,
        tokens: TokenSet,
        claims: Mapping[str, Any],
        idle_timeout: float,
        absolute_timeout: float,
        now: float,
        idp_sid: str | None = None,
        user_agent: str | None = None,
        extra: Mapping[str, Any] | None = None,
        access: SessionAccess | None = None,
    ) -> SessionRecord:
        """A new record with a fresh random id and sealed tokens, ready for a store's create."""
        session_id = new_opaque_id()
        absolute = now + absolute_timeout
        return SessionRecord(
            id=session_id,
            kind=kind,
            sub=sub,
            idp_sid=idp_sid,
            claims=dict(claims),
            created_at=now,
            last_seen_at=now,
            idle_expires_at=min(now + idle_timeout, absolute),
            absolute_expires_at=absolute,
            user_agent=user_agent,
            tokens=self.seal_tokens(session_id, tokens),
            extra=dict(extra or {}),
            access=access or SessionAccess(),
        )

    def check_new(self, record: SessionRecord, now: float) -> None:
        """``ValueError`` unless the record is fit to be created."""
        if len(record.id) < MIN_SESSION_ID_LENGTH:
            raise ValueError("a session id needs at least 256 random bits (use new_record)")
        if record.is_expired(now):
            raise ValueError("the session record is already expired")
        try:
            self.open_tokens(record)
        except DecryptionError as exc:
            raise ValueError("the tokens are not sealed for this session id") from exc

    def encode_fields(self, record: SessionRecord) -> dict[str, bytes]:
        """The stored form: a JSON value per field, the session id sealed."""
        fields = {name: msgspec.json.encode(getattr(record, name)) for name in RECORD_FIELDS}
        sealed_id = self.cipher.encrypt(record.id.encode(), _SESSION_ID_AD + record.sub.encode())
        fields["id"] = msgspec.json.encode(sealed_id)
        return fields

    def decode(self, fields: Mapping[Any, Any]) -> SessionRecord | None:
        """Record from stored fields, or None when anything about it is wrong."""
        try:
            values = {text(name): msgspec.json.decode(value) for name, value in fields.items()}
            values["id"] = self.cipher.decrypt(
                str(values.get("id", "")), _SESSION_ID_AD + str(values.get("sub", "")).encode()
            ).decode()
            record = msgspec.convert(values, SessionRecord)
            self.open_tokens(record)
        except (msgspec.DecodeError, msgspec.ValidationError, DecryptionError, UnicodeError) as exc:
            # Tampering, or a secret key retired too early: worth a warning, never an error page.
            _logger.warning("session_record_discarded", reason=type(exc).__name__)
            return None
        return record


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
