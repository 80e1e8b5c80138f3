"""The token service: "give me a fresh access token for this session".

An access token is refreshed when it expires within the skew (``BFF_TOKEN_REFRESH_SKEW``, never
more than half its lifetime). Parallel requests of one session cause exactly one refresh:

* in one process, an ``asyncio.Lock`` per session makes the others wait;
* across instances, a Redis lock (``SET NX PX``, via redis-py's ``Lock``) whose timeout is longer
  than a slow token call makes the other instances wait;
* every waiter re-reads the session once it has the lock, and finds the new tokens.

A refused refresh (revoked or expired refresh token) ends the session; the caller gets a 401
problem and the client logs in again, with no retry loop. An unreachable IdP does not end the
session: while the old access token is still valid it is used, otherwise a 503 problem.

A refresh is a ``token.refresh`` span (the IdP call under it) whose
``bff.token.refresh.outcome`` says what happened: ``ok``, ``refused``, ``deferred`` (IdP down,
old token still good), ``unavailable``, ``no_refresh_token``, or ``already_refreshed`` (another
request or instance did it first). ``bff.token.refreshes`` counts the IdP calls, ``ok`` or
``failed`` (with ``error.type``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref

from opentelemetry import trace
from redis.exceptions import LockError, RedisError

from shared.identity.oidc import IdpUnavailable, InvalidGrant, OidcError, OidcRelyingParty
from shared.identity.records import SessionRecord, TokenSet
from shared.identity.sessions import SessionStore
from shared.platform import metrics as bff_metrics
from shared.platform.errors import NotReady, Unauthenticated
from shared.platform.logging import get_logger
from shared.platform.redis import RedisClient
from shared.platform.telemetry import child_span

REFRESH_LOCK_TIMEOUT_S = 15.0
REFRESH_WAIT_S = 12.0
RETRY_FAILED_REFRESH_AFTER_S = 5.0

_logger = get_logger("bff.tokens")


def needs_refresh(tokens: TokenSet, skew_s: float, now: float) -> bool:
    if tokens.access_token_expires_at is None:
        return False
    lifetime = tokens.access_token_expires_at - (tokens.access_token_issued_at or now)
    effective_skew = min(skew_s, max(lifetime, 0.0) / 2)
    return now >= tokens.access_token_expires_at - effective_skew


class TokenService:
    def __init__(
        self,
        store: SessionStore,
        oidc: OidcRelyingParty,
        redis: RedisClient | None,
        *,
        skew_s: float,
    ) -> None:
        self.store = store
        self.oidc = oidc
        self.redis = redis
        self.skew_s = skew_s
        self._local_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._deferred_until: dict[str, float] = {}
        self.refreshes_ok = 0
        self.refreshes_failed = 0

    async def fresh_tokens(self, record: SessionRecord) -> TokenSet:
        tokens = self.store.open_tokens(record)
        now = time.time()
        if not needs_refresh(tokens, self.skew_s, now):
            return tokens
        if self._deferred_until.get(record.id, 0.0) > now and now < (
            tokens.access_token_expires_at or 0.0
        ):
            # A refresh just failed with the IdP unavailable: do not hammer it from every
            # request while the current token is still good.
            return tokens
        lock = self._local_locks.get(record.id)
        if lock is None:
            lock = asyncio.Lock()
            self._local_locks[record.id] = lock
        with child_span("token.refresh") as span:
            span.set_attribute("bff.token.refresh.outcome", "already_refreshed")  # until told
            async with lock:
                return await self._refresh_once_across_instances(record.id)

    async def _reread(self, session_id: str) -> tuple[SessionRecord, TokenSet]:
        record = await self.store.get(session_id)
        if record is None:
            raise Unauthenticated("The session has ended")
        return record, self.store.open_tokens(record)

    async def _refresh_once_across_instances(self, session_id: str) -> TokenSet:
        record, tokens = await self._reread(session_id)
        if not needs_refresh(tokens, self.skew_s, time.time()):
            return tokens
        if self.redis is None:
            return await self._refresh(record, tokens)
        name = "bff:lock:refresh:" + hashlib.sha256(session_id.encode()).hexdigest()
        lock = self.redis.lock(
            name, timeout=REFRESH_LOCK_TIMEOUT_S, blocking_timeout=REFRESH_WAIT_S, sleep=0.05
        )
        try:
            acquired = await lock.acquire()
        except RedisError:
            _logger.warning("refresh_lock_unavailable")
            return await self._refresh(record, tokens)
        if not acquired:
            raise NotReady("The session's tokens are being refreshed; try again")
        try:
            record, tokens = await self._reread(session_id)
            if not needs_refresh(tokens, self.skew_s, time.time()):
                return tokens
            return await self._refresh(record, tokens)
        finally:
            try:
                await lock.release()
            except (LockError, RedisError):
                _logger.warning("refresh_lock_release_failed")

    async def _refresh(self, record: SessionRecord, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            trace.get_current_span().set_attribute("bff.token.refresh.outcome", "no_refresh_token")
            if time.time() < (tokens.access_token_expires_at or 0):
                return tokens
            await self.store.delete(record.id)
            raise Unauthenticated("The session has expired")
        try:
            response = await self.oidc.refresh(tokens.refresh_token)
        except InvalidGrant:
            self.refreshes_failed += 1
            _outcome("refused", failed="InvalidGrant")
            await self.store.delete(record.id)
            _logger.info("token_refresh_refused", session_kind=record.kind)
            raise Unauthenticated("The session has ended; please log in again") from None
        except (IdpUnavailable, OidcError) as exc:
            self.refreshes_failed += 1
            still_valid = time.time() < (tokens.access_token_expires_at or 0)
            _outcome("deferred" if still_valid else "unavailable", failed=type(exc).__name__)
            if still_valid:
                _logger.warning("token_refresh_deferred")
                self._deferred_until = {
                    sid: until for sid, until in self._deferred_until.items() if until > time.time()
                }
                self._deferred_until[record.id] = time.time() + RETRY_FAILED_REFRESH_AFTER_S
                return tokens
            raise NotReady("The identity provider is unavailable") from None
        now = time.time()
        renewed = TokenSet(
            access_token=response.access_token,
            refresh_token=response.refresh_token or tokens.refresh_token,
            id_token=response.id_token or tokens.id_token,
            access_token_expires_at=response.expires_at,
            access_token_issued_at=now,
        )
        if not await self.store.update_tokens(record.id, renewed):
            raise Unauthenticated("The session has ended")
        self._deferred_until.pop(record.id, None)
        self.refreshes_ok += 1
        _outcome("ok")
        _logger.info("token_refreshed", session_kind=record.kind)
        return renewed


def _outcome(outcome: str, *, failed: str | None = None) -> None:
    """Count an IdP refresh call and name its outcome on the ``token.refresh`` span."""
    attributes = {"bff.token.refresh.outcome": "ok"}
    if failed is not None:
        attributes = {"bff.token.refresh.outcome": "failed", "error.type": failed}
    bff_metrics.TOKEN_REFRESHES.add(1, attributes)
    span = trace.get_current_span()
    span.set_attribute("bff.token.refresh.outcome", outcome)
    if failed is not None:
        span.set_attribute("error.type", failed)
