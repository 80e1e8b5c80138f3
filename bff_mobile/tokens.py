"""The app's opaque bearer tokens: issuing, lookup, rotation with reuse detection, the guard.

The app never holds an IdP token. It holds two random strings (256 bits each) that mean
nothing outside this gateway: an access token, sent as ``Authorization: Bearer`` to
``/m/v1/*`` and living ``ACCESS_TOKEN_TTL_S``, and a refresh token, traded once at
``POST /auth/token`` for a new pair. Threats this stops:

* **A copy of the store yields no bearer.** Tokens are indexed by their keyed hash
  (``cipher.hash_token``) only; lookups try ``hash_token_candidates`` so a key rotation logs
  nobody out.
* **A stolen refresh token is good for one use at most, and its use is noticed.** The session
  keeps its token family in ``extra[FAMILY_KEY]``: the hashes of the one current refresh token
  and of the access token minted with it, and a generation count. A rotated-out refresh token
  still finds its session (its index entry lives as long as the session), so whoever presents
  it second, thief or app, is recognised as reuse, and the whole session ends: every token of
  it stops working and the IdP refresh token is revoked.
* **Two presentations racing each other.** Rotating first claims the presented token with
  ``remember_once`` (one ``SET NX``): only one caller can win, the other one is reuse.
* **A stolen access token is short-lived and dies with the next rotation.** Rotation drops
  the old access token, and the guard accepts only the family's current access hash, before
  its expiry, of a live mobile session: ending a session (logout, the web sessions list,
  back-channel logout, reuse) stops every token of it at once.

Strict rotation has a price: an app that loses the response to a refresh and retries with the
same refresh token ends its own session and has to log in again. There is no grace period,
since one would also give a thief a window.
"""

from __future__ import annotations

import hmac
import math
import re
import time
from dataclasses import dataclass
from typing import Any, TypeAlias

import msgspec
from litestar import Request
from litestar.di import NamedDependency

from shared.identity.records import SessionRecord
from shared.identity.wiring import Identity
from shared.platform.crypto import new_opaque_id
from shared.platform.errors import Unauthenticated
from shared.platform.logging import get_logger

ACCESS_TOKEN_TTL_S = 300
FAMILY_KEY = "token_family"

# What new_opaque_id() makes is 43 characters; a little room either way, nothing else.
_TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{32,128}")
_REFRESH_CLAIM_PREFIX = "mobile-refresh-used:"

_logger = get_logger("bff.mobile.tokens")


class TokenFamily(msgspec.Struct, frozen=True):
    """The session's current pair, by hash: what tells a current token from a rotated-out one."""

    generation: int
    refresh_hash: str
    access_hash: str
    access_expires_at: float


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """A new pair for the app, in clear: only ever in the token response, never stored."""

    access_token: str
    refresh_token: str
    expires_in: int

    def __repr__(self) -> str:
        return f"IssuedTokens(<redacted>, expires_in={self.expires_in})"


class TokenRefused(Exception):
    """A presented token or grant does not lead to a live session; ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def identity_of(request: Request[Any, Any, Any]) -> Identity:
    identity: Identity = request.app.state.identity
    return identity


# --- issuing -----------------------------------------------------------------------------------


def mint_tokens(
    identity: Identity, *, generation: int, now: float, session_expires_at: float
) -> tuple[IssuedTokens, TokenFamily]:
    """A fresh random pair and the family record that names it by hash (nothing stored yet)."""
    access_token, refresh_token = new_opaque_id(), new_opaque_id()
    lifetime = max(1.0, min(float(ACCESS_TOKEN_TTL_S), session_expires_at - now))
    family = TokenFamily(
        generation=generation,
        refresh_hash=identity.cipher.hash_token(refresh_token),
        access_hash=identity.cipher.hash_token(access_token),
        access_expires_at=now + lifetime,
    )
    return IssuedTokens(access_token, refresh_token, math.floor(lifetime)), family


def family_extra(extra: dict[str, Any], family: TokenFamily) -> dict[str, Any]:
    """The session's ``extra`` with ``family`` as its token family."""
    return {**extra, FAMILY_KEY: msgspec.to_builtins(family)}


def read_family(record: SessionRecord) -> TokenFamily | None:
    try:
        return msgspec.convert(record.extra.get(FAMILY_KEY), TokenFamily)
    except msgspec.ValidationError:
        return None


async def index_tokens(
    identity: Identity,
    session_id: str,
    family: TokenFamily,
    *,
    now: float,
    session_expires_at: float,
) -> None:
    """Make a minted pair usable. The refresh entry lives as long as the session can, so that
    its reuse is still recognised after it has been rotated out."""
    sessions = identity.sessions
    await sessions.index_token(
        "access", family.access_hash, session_id, family.access_expires_at - now
    )
    await sessions.index_token(
        "refresh", family.refresh_hash, session_id, max(1.0, session_expires_at - now)
    )


async def drop_tokens(identity: Identity, family: TokenFamily) -> None:
    await identity.sessions.drop_token("access", family.access_hash)
    await identity.sessions.drop_token("refresh", family.refresh_hash)


async def end_mobile_session(identity: Identity, record: SessionRecord) -> None:
    """End the session everywhere, revoke its IdP refresh token, and drop its current pair."""
    family = read_family(record)
    if family is not None:
        await drop_tokens(identity, family)
    await identity.end_session(record)


# --- lookup ------------------------------------------------------------------------------------


async def find_session_id(identity: Identity, kind: str, token: str) -> tuple[str, str] | None:
    """``(session id, matching hash)`` of a presented token, trying every hash candidate."""
    if not _TOKEN_FORMAT.fullmatch(token):
        return None
    for token_hash in identity.cipher.hash_token_candidates(token):
        session_id = await identity.sessions.lookup_token(kind, token_hash)
        if session_id is not None:
            return session_id, token_hash
    return None


async def session_for_access_token(identity: Identity, token: str) -> SessionRecord | None:
    """The live mobile session of a current, unexpired access token; slides its idle timeout."""
    found = await find_session_id(identity, "access", token)
    if found is None:
        return None
    session_id, token_hash = found
    record = await identity.live_session(session_id, slide=False)
    if record is None or record.kind != "mobile":
        return None
    family = read_family(record)
    now = time.time()
    if (
        family is None
        or not hmac.compare_digest(token_hash, family.access_hash)
        or now >= family.access_expires_at
    ):
        return None
    await identity.sessions.touch(record.id, now, identity.settings.session_idle_timeout_s)
    return record


async def rotate(identity: Identity, refresh_token: str) -> IssuedTokens:
    """Trade a current refresh token for a new pair; reuse of any other one ends the session."""
    found = await find_session_id(identity, "refresh", refresh_token)
    if found is None:
        raise TokenRefused("The refresh token is not valid")
    session_id, presented_hash = found
    record = await identity.live_session(session_id, slide=True)
    if record is None or record.kind != "mobile":
        raise TokenRefused("The session has ended")
    family = read_family(record)
    if family is None:
        raise TokenRefused("The session has no token family")
    now = time.time()
    is_current = hmac.compare_digest(presented_hash, family.refresh_hash)
    if not is_current or not await identity.sessions.remember_once(
        _REFRESH_CLAIM_PREFIX + presented_hash, max(1.0, record.absolute_expires_at - now)
    ):
        await end_mobile_session(identity, record)
        _logger.warning("refresh_token_reuse", generation=family.generation)
        raise TokenRefused("The refresh token was already used; the session has ended")

    issued, renewed = mint_tokens(
        identity,
        generation=family.generation + 1,
        now=now,
        session_expires_at=record.absolute_expires_at,
    )
    await index_tokens(
        identity, record.id, renewed, now=now, session_expires_at=record.absolute_expires_at
    )
    if not await identity.sessions.update_extra(record.id, family_extra(record.extra, renewed)):
        await drop_tokens(identity, renewed)
        raise TokenRefused("The session has ended")
    # The rotated-out refresh entry stays: it is how a later replay is recognised.
    await identity.sessions.drop_token("access", family.access_hash)
    _logger.info("mobile_tokens_rotated", generation=renewed.generation)
    return issued


# --- the guard for the app's API ---------------------------------------------------------------


def _invalid_token(detail: str) -> Unauthenticated:
    return Unauthenticated(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


async def bearer_session(request: Request[Any, Any, Any]) -> SessionRecord:
    """Dependency for ``/m/v1/*`` and ``/auth/logout``: the caller's live mobile session.

    401 problem otherwise: ``WWW-Authenticate: Bearer`` when no token was sent (RFC 6750
    3.1), ``Bearer error="invalid_token"`` for a malformed, unknown, rotated-out or expired one.
    """
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated("A bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _invalid_token("The Authorization header must be 'Bearer <access token>'")
    record = await session_for_access_token(identity_of(request), token.strip())
    if record is None:
        raise _invalid_token("The access token is not valid or has expired")
    return record


MobileSession: TypeAlias = NamedDependency[SessionRecord]
"""Annotate a handler parameter ``mobile_session: MobileSession`` to get the bearer's session
(its router or handler provides ``mobile_session`` with :func:`bearer_session`)."""
