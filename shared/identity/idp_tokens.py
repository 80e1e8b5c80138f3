"""The IdP token manager: "give me a fresh access token for this session".

An access token is refreshed when it expires within the skew (``BFF_TOKEN_REFRESH_SKEW``, never
more than half its lifetime). Parallel requests of one session cause exactly one refresh:

* in one process, one refresh task per session, which every request of it waits for;
* across instances, a Redis lock (``SET NX PX``, via redis-py's ``Lock``) whose timeout is longer
  than a slow token call makes the other instances wait;
* every waiter re-reads the session once it has the lock, and finds the new tokens.

A refused refresh (revoked or expired refresh token) ends the session (``SessionEnded``); the
client logs in again, with no retry loop. An unreachable IdP does not end the session: while the
old access token is still valid it is used, otherwise ``IdpUnavailable``.

The wait counts against the request's deadline (``current_deadline()``, the screen's): waiting
for a lock and the IdP call together never outlast it. Running out of time is handled like an
unreachable IdP.

A refresh is a ``token.refresh`` span (the IdP call under it) whose
``bff.token.refresh.outcome`` says what happened: ``ok``, ``refused``, ``deferred`` (IdP down,
old token still good), ``unavailable``, ``no_refresh_token``, or ``already_refreshed`` (another
request or instance did it first). ``bff.token.refreshes`` counts the IdP calls, ``ok`` or
``failed`` (with ``error.type``).
"""

from __future__ import annotations

import asyncio
from functools import partial

from opentelemetry import trace

from shared.identity.access import RolesSource, access_after_refresh
from shared.identity.dpop import DpopKey, presented_key, session_key
from shared.identity.errors import (
    IdpUnavailable,
    InvalidGrant,
    OidcError,
    RefreshInProgress,
    SessionEnded,
)
from shared.identity.oidc import OidcRelyingParty, TokenResponse
from shared.identity.records import SessionRecord, TokenSet
from shared.identity.session_store import SessionStore
from shared.platform import metrics as bff_metrics
from shared.platform.clock import Clock
from shared.platform.deadline import current_deadline
from shared.platform.keys import KeyedHasher
from shared.platform.logging import get_logger
from shared.platform.redis import RedisClient
from shared.platform.redis_lock import LockBusy, held_across_instances
from shared.platform.telemetry import child_span

REFRESH_LOCK_TIMEOUT_S = 15.0
REFRESH_WAIT_S = 12.0
"""The longest a request waits for another instance's refresh when no deadline is tighter."""
RETRY_FAILED_REFRESH_AFTER_S = 5.0

_logger = get_logger("bff.tokens")


def needs_refresh(tokens: TokenSet, skew_s: float, now: float) -> bool:
    if tokens.access_token_expires_at is None:
        return False
    lifetime = tokens.access_token_expires_at - (tokens.access_token_issued_at or now)
    effective_skew = min(skew_s, max(lifetime, 0.0) / 2)
    return now >= tokens.access_token_expires_at - effective_skew


class IdpTokenManager:
    """Fresh IdP tokens for a session, refreshed exactly once across requests and instances."""

    def __init__(
        self,
        store: SessionStore,
        oidc: OidcRelyingParty,
        redis: RedisClient | None,
        keys: KeyedHasher,
        clock: Clock,
        *,
        skew_s: float,
        roles: RolesSource | None = None,
    ) -> None:
        self.store = store
        self.oidc = oidc
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.skew_s = skew_s
        self.roles = roles or RolesSource()
        self._in_flight: dict[str, asyncio.Task[TokenSet]] = {}
        self._deferred_until: dict[str, float] = {}

    def open_tokens(self, record: SessionRecord) -> TokenSet:
        """The record's tokens in clear (``DecryptionError`` if the keys changed meanwhile)."""
        return self.store.codec.open_tokens(record)

    async def fresh_tokens(self, record: SessionRecord) -> TokenSet:
        tokens = self.open_tokens(record)
        now = self.clock.time()
        if not needs_refresh(tokens, self.skew_s, now):
            return tokens
        if self._deferred_until.get(record.id, 0.0) > now and now < (
            tokens.access_token_expires_at or 0.0
        ):
            # A refresh just failed with the IdP unavailable: do not hammer it from every
            # request while the current token is still good.
            return tokens
        with child_span("token.refresh") as span:
            span.set_attribute("bff.token.refresh.outcome", "already_refreshed")  # until told
            refresh = self._in_flight.get(record.id)
            if refresh is None:
                refresh = asyncio.create_task(
                    self._refresh_once_across_instances(record.id), name="token-refresh"
                )
                self._in_flight[record.id] = refresh
                refresh.add_done_callback(partial(self._refresh_done, record.id))
            try:
                # Shielded: a caller out of time stops waiting, but the refresh itself runs
                # to its end, so a rotated refresh token is never lost half-way.
                return await asyncio.wait_for(asyncio.shield(refresh), _time_left())
            except TimeoutError:
                return self._unavailable(record, tokens, "DeadlineExceeded", idp_called=False)

    def _refresh_done(self, session_id: str, task: asyncio.Task[TokenSet]) -> None:
        if self._in_flight.get(session_id) is task:
            del self._in_flight[session_id]
        if not task.cancelled():
            task.exception()  # retrieved here too, for when every waiter ran out of time

    async def _reread(self, session_id: str) -> tuple[SessionRecord, TokenSet]:
        record = await self.store.get(session_id)
        if record is None:
            raise SessionEnded("The session has ended")
        return record, self.open_tokens(record)

    async def _refresh_once_across_instances(self, session_id: str) -> TokenSet:
        record, tokens = await self._reread(session_id)
        if not needs_refresh(tokens, self.skew_s, self.clock.time()):
            return tokens
        try:
            async with held_across_instances(
                self.redis,
                "bff:lock:refresh:" + self.keys.hex("lock", session_id),
                timeout_s=REFRESH_LOCK_TIMEOUT_S,
                wait_s=REFRESH_WAIT_S,
                purpose="refresh",
            ):
                if self.redis is not None:  # another instance may have refreshed meanwhile
                    record, tokens = await self._reread(session_id)
                    if not needs_refresh(tokens, self.skew_s, self.clock.time()):
                        return tokens
                return await self._refresh(record, tokens)
        except LockBusy:
            raise RefreshInProgress() from None

    async def _refresh(self, record: SessionRecord, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            trace.get_current_span().set_attribute("bff.token.refresh.outcome", "no_refresh_token")
            if self.clock.time() < (tokens.access_token_expires_at or 0):
                return tokens
            await self.store.delete(record.id)
            raise SessionEnded("The session has expired")
        try:
            response = await self.oidc.refresh(tokens.refresh_token, dpop_key=session_key(tokens))
        except InvalidGrant:
            _outcome("refused", failed="InvalidGrant")
            await self.store.delete(record.id)
            _logger.info("token_refresh_refused", session_kind=record.kind)
            raise SessionEnded() from None
        except (IdpUnavailable, OidcError) as exc:
            return self._unavailable(record, tokens, type(exc).__name__)
        renewed = TokenSet(
            access_token=response.access_token,
            refresh_token=response.refresh_token or tokens.refresh_token,
            id_token=response.id_token or tokens.id_token,
            access_token_expires_at=response.expires_at,
            access_token_issued_at=self.clock.time(),
            token_type=response.token_type,
            dpop_key=tokens.dpop_key,
        )
        if not await self.store.update_tokens(record.id, renewed):
            raise SessionEnded("The session has ended")
        await self._refresh_access(record, response, presented_key(renewed))
        self._deferred_until.pop(record.id, None)
        _outcome("ok")
        _logger.info("token_refreshed", session_kind=record.kind)
        return renewed

    async def _refresh_access(
        self, record: SessionRecord, response: TokenResponse, dpop_key: DpopKey | None
    ) -> None:
        """Roles and scopes follow the tokens: re-read from what the refresh returned (an ID
        token only once validated, or UserInfo for the new access token). When the IdP says
        nothing about roles, or that step fails, the session keeps the roles it had."""
        roles = None
        try:
            claims = None
            if response.id_token and not self.roles.userinfo:
                claims = await self.oidc.validate_id_token(response.id_token, nonce=None)
            roles = await self.roles.read(
                self.oidc,
                id_token_claims=claims,
                access_token=response.access_token,
                sub=record.sub,
                dpop_key=dpop_key,
            )
        except (OidcError, IdpUnavailable):
            _logger.warning("refreshed_roles_unread")
        access = access_after_refresh(record.access, roles=roles, granted=response.scope)
        if access != record.access and not await self.store.update_access(record.id, access):
            raise SessionEnded("The session has ended")

    def _unavailable(
        self, record: SessionRecord, tokens: TokenSet, error_type: str, *, idp_called: bool = True
    ) -> TokenSet:
        """The IdP could not refresh in time: keep a still-valid token a little, else fail."""
        now = self.clock.time()
        still_valid = now < (tokens.access_token_expires_at or 0)
        outcome = "deferred" if still_valid else "unavailable"
        _outcome(outcome, failed=error_type, counted=idp_called)
        if not still_valid:
            raise IdpUnavailable() from None
        _logger.warning("token_refresh_deferred")
        self._deferred_until = {
            sid: until for sid, until in self._deferred_until.items() if until > now
        }
        self._deferred_until[record.id] = now + RETRY_FAILED_REFRESH_AFTER_S
        return tokens


def _time_left() -> float:
    """Seconds the current request may still spend (the refresh wait when there is no deadline)."""
    deadline = current_deadline()
    return REFRESH_WAIT_S if deadline is None else min(REFRESH_WAIT_S, deadline.remaining())


def _outcome(outcome: str, *, failed: str | None = None, counted: bool = True) -> None:
    """Count an IdP refresh call and name its outcome on the ``token.refresh`` span."""
    attributes = {"bff.token.refresh.outcome": "ok"}
    if failed is not None:
        attributes = {"bff.token.refresh.outcome": "failed", "error.type": failed}
    if counted:
        bff_metrics.TOKEN_REFRESHES.add(1, attributes)
    span = trace.get_current_span()
    span.set_attribute("bff.token.refresh.outcome", outcome)
    if failed is not None:
        span.set_attribute("error.type", failed)
