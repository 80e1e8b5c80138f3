"""The refresh reuse window: a retried or parallel refresh gets the pair already minted for it.

Strict rotation ends the session when a rotated-out refresh token is presented again. Apps retry
on flaky networks and sometimes refresh from two places at once; without a grace period the
loser of such a race ends the session, and the winner's new pair dies with it. So, for
``BFF_MOBILE_REFRESH_REUSE_SECONDS`` after a rotation (as large IdPs offer a reuse interval), the
token it replaced gets **the same successor pair** again, never a third, as long as that
successor is unused. After the window, or once the successor was used (its access token at
``/m/v1``, or its refresh token rotated), a presentation is reuse and ends the session as before.

Across instances, through the one-time store (Redis):

* the rotation that wins the token's claim (one ``SET NX``) publishes the successor, sealed, for
  the window, *before* the session's family moves on to it;
* a presentation that lost the claim waits, briefly and boundedly, for the family to move
  (``previous_refresh_hash`` is the presented token), then reads the published pair;
* the bearer reader notes the successor's first use within the window (one ``SET NX``, only
  during the window), which closes it.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable

import msgspec

from shared.identity.one_time import OneTimeStore
from shared.identity.token_family import TokenFamily
from shared.platform.clock import Clock

SUCCESSOR_WAIT_S = 0.05
SUCCESSOR_WAIT_ROUNDS = 40
"""How long a presentation that lost the claim waits for the winner to publish: 2 s at most."""

_SUCCESSOR_PREFIX = "mobile-refresh-successor:"
_SUCCESSOR_USED_PREFIX = "mobile-refresh-successor-used:"


class SuccessorPair(msgspec.Struct, frozen=True, array_like=True):
    """The pair minted for a rotated-out refresh token, kept sealed for the window only."""

    access_token: str
    refresh_token: str
    access_expires_at: float


class RefreshReuseWindow:
    def __init__(self, one_time: OneTimeStore, clock: Clock, window_s: float) -> None:
        self._one_time = one_time
        self._clock = clock
        self.window_s = window_s

    async def publish(self, rotated_hash: str, successor: SuccessorPair) -> None:
        """Keep ``successor`` for the token it replaced, for the window (nothing if it is 0)."""
        if self.window_s > 0:
            value = msgspec.msgpack.encode(successor)
            await self._one_time.put(_SUCCESSOR_PREFIX + rotated_hash, value, self.window_s)

    async def note_use(self, family: TokenFamily) -> None:
        """The family's current pair is in use: from now on its predecessor is plain reuse."""
        if family.previous_refresh_hash and self._within(family):
            await self._one_time.remember_once(
                _SUCCESSOR_USED_PREFIX + family.previous_refresh_hash, self.window_s
            )

    async def successor_for(
        self, presented_hash: str, current_family: Callable[[], Awaitable[TokenFamily | None]]
    ) -> SuccessorPair | None:
        """The published successor of a presented token that cannot rotate (it lost the claim,
        or was rotated out), or None: then the presentation is reuse."""
        if self.window_s <= 0:
            return None
        for _ in range(SUCCESSOR_WAIT_ROUNDS):
            family = await current_family()
            if family is None:
                return None
            if hmac.compare_digest(presented_hash, family.previous_refresh_hash):
                return await self._published(presented_hash, family)
            if not hmac.compare_digest(presented_hash, family.refresh_hash):
                return None  # an older token, or the successor has been rotated since
            await asyncio.sleep(SUCCESSOR_WAIT_S)  # the winning rotation is still under way
        return None

    async def _published(self, presented_hash: str, family: TokenFamily) -> SuccessorPair | None:
        if not self._within(family) or await self._one_time.seen(
            _SUCCESSOR_USED_PREFIX + presented_hash
        ):
            return None
        raw = await self._one_time.peek(_SUCCESSOR_PREFIX + presented_hash)
        if raw is None:
            return None
        try:
            successor = msgspec.msgpack.decode(raw, type=SuccessorPair)
        except msgspec.DecodeError:
            return None
        return successor if successor.access_expires_at > self._clock.time() else None

    def _within(self, family: TokenFamily) -> bool:
        return self._clock.time() - family.rotated_at <= self.window_s
