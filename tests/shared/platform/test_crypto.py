"""Tokens at rest: sealed, bound to their context, tamper-evident, and readable across rotation."""

from __future__ import annotations

import base64

import pytest

from shared.platform.crypto import DecryptionError, TokenCipher, new_opaque_id

OLD_KEY = "old-secret-key-0123456789-abcdefghijklmnop"
NEW_KEY = "new-secret-key-9876543210-zyxwvutsrqponmlk"
AD = b"session-id-1"


def _flip_byte(token: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_round_trip_gives_back_the_plaintext() -> None:
    """What is sealed opens again, with the same associated data."""
    cipher = TokenCipher(NEW_KEY)
    token = cipher.encrypt(b"refresh-token-value", AD)
    assert cipher.decrypt(token, AD) == b"refresh-token-value"
    assert b"refresh-token-value" not in base64.urlsafe_b64decode(token + "==")


def test_every_seal_uses_a_fresh_nonce() -> None:
    """Sealing the same value twice gives different outputs, so equal tokens are not visible."""
    cipher = TokenCipher(NEW_KEY)
    assert cipher.encrypt(b"same", AD) != cipher.encrypt(b"same", AD)


def test_other_associated_data_does_not_open() -> None:
    """Tokens sealed for one session cannot be opened as another session's."""
    cipher = TokenCipher(NEW_KEY)
    token = cipher.encrypt(b"secret", AD)
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, b"session-id-2")


@pytest.mark.parametrize("index", [0, 1, 5, 10, 17, 20, -1])
def test_any_changed_byte_is_detected(index: int) -> None:
    """A change anywhere (version, key id, nonce, ciphertext, tag) makes decryption fail."""
    cipher = TokenCipher(NEW_KEY)
    token = cipher.encrypt(b"secret value", AD)
    with pytest.raises(DecryptionError):
        cipher.decrypt(_flip_byte(token, index), AD)


@pytest.mark.parametrize(
    "garbage", ["", "not base64!", "abc", "é", "AAAA", "A" * 200, "=" * 8, "a.b.c"]
)
def test_garbage_raises_only_decryption_error(garbage: str) -> None:
    """Whatever is stored, decrypt fails with our own error, never with a decoding error."""
    with pytest.raises(DecryptionError):
        TokenCipher(NEW_KEY).decrypt(garbage, AD)


def test_only_the_exact_url_safe_form_opens() -> None:
    """The same bytes in the standard alphabet, padded, or with whitespace inside are not the
    sealed value: a lenient decoder would open them."""
    cipher = TokenCipher(NEW_KEY)
    token = next(t for t in (cipher.encrypt(b"x" * 40, AD) for _ in range(200)) if "-" in t)
    assert cipher.decrypt(token, AD) == b"x" * 40
    for variant in (
        token.replace("-", "+"),
        token + "=" * (-len(token) % 4 or 4),
        token[:8] + "\n" + token[8:],
        token[:8] + " " + token[8:],
    ):
        with pytest.raises(DecryptionError):
            cipher.decrypt(variant, AD)


def test_truncated_value_is_rejected() -> None:
    cipher = TokenCipher(NEW_KEY)
    token = cipher.encrypt(b"secret value", AD)
    with pytest.raises(DecryptionError):
        cipher.decrypt(token[:-4], AD)


def test_wrong_key_does_not_open() -> None:
    token = TokenCipher(OLD_KEY).encrypt(b"secret", AD)
    with pytest.raises(DecryptionError):
        TokenCipher(NEW_KEY).decrypt(token, AD)


def test_rotation_opens_old_values_and_seals_with_the_new_key() -> None:
    """After a rotation the previous key still opens; new values need the new key."""
    old_token = TokenCipher(OLD_KEY).encrypt(b"old", AD)
    rotated = TokenCipher(NEW_KEY, previous_key=OLD_KEY)
    assert rotated.decrypt(old_token, AD) == b"old"

    new_token = rotated.encrypt(b"new", AD)
    assert TokenCipher(NEW_KEY).decrypt(new_token, AD) == b"new"
    with pytest.raises(DecryptionError):
        TokenCipher(OLD_KEY).decrypt(new_token, AD)


def test_once_the_previous_key_is_dropped_old_values_no_longer_open() -> None:
    old_token = TokenCipher(OLD_KEY).encrypt(b"old", AD)
    with pytest.raises(DecryptionError):
        TokenCipher(NEW_KEY).decrypt(old_token, AD)


@pytest.mark.parametrize("weak", ["short", "x" * 32, "0123" * 10])
def test_weak_secret_keys_are_refused(weak: str) -> None:
    with pytest.raises(ValueError, match="secret key"):
        TokenCipher(weak)
    with pytest.raises(ValueError, match="secret key"):
        TokenCipher(NEW_KEY, previous_key=weak)


def test_opaque_ids_are_long_random_and_url_safe() -> None:
    ids = {new_opaque_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 43 and i.replace("-", "").replace("_", "").isalnum() for i in ids)
    with pytest.raises(ValueError, match="128"):
        new_opaque_id(8)
