"""The gateway's own access tokens (client-credentials grant), for ``token = "client"`` APIs.

One token per set of scopes, asked of the IdP through the gateway's one OIDC client
(``OidcRelyingParty.client_credentials``: the configured client authentication, so
``private_key_jwt`` works here too), and used until shortly before it expires — the same skew
rule as a session's token (``needs_refresh``). Many calls cause one token request:

* in one process, one fetch task per scope set (``SingleFlight``), which every caller waits for;
* across instances, the token is kept in Redis (sealed with the gateway's key, as session
  tokens are, and expiring with the token) and fetched under a Redis lock
  (``held_across_instances``); whoever waited re-reads Redis and finds it;
* without Redis, in process memory only.

A failure to get a token is ``RemoteApiTokenUnavailable`` (503): the IdP being away is not the
caller's fault, and no session ends over it.
"""

from __future__ import annotations

import asyncio

import msgspec
from redis.exceptions import RedisError

from shared.cache.flight import SingleFlight
from shared.identity.errors import IdentityError
from shared.identity.idp_tokens import needs_refresh
from shared.identity.oidc import OidcRelyingParty
from shared.identity.records import TokenSet
from shared.platform.clock import Clock
from shared.platform.crypto import DecryptionError, TokenCipher
from shared.platform.deadline import current_deadline
from shared.platform.keys import KeyedHasher
from shared.platform.logging import get_logger
from shared.platform.redis import RedisClient
from shared.platform.redis_lock import LockBusy, held_across_instances
from shared.remote.errors import RemoteApiTokenUnavailable

FETCH_LOCK_TIMEOUT_S = 15.0
FETCH_WAIT_S = 12.0
"""The longest a call waits for another instance's fetch when no deadline is tighter."""
KEY_PREFIX = "bff:client-token:"

_logger = get_logger("bff.remote.tokens")


class ClientTokens:
    """Client-credentials access tokens by scope set, fetched once across instances."""

    def __init__(
        self,
        oidc: OidcRelyingParty,
        redis: RedisClient | None,
        cipher: TokenCipher,
        keys: KeyedHasher,
        clock: Clock,
        *,
        skew_s: float,
    ) -> None:
        self._oidc = oidc
        self._redis = redis
        self._cipher = cipher
        self._keys = keys
        self._clock = clock
        self._skew_s = skew_s
        self._held: dict[str, TokenSet] = {}
        self._flights: SingleFlight[TokenSet] = SingleFlight()

    async def access_token(self, api: str, scopes: tuple[str, ...]) -> str:
        """A valid token for ``scopes``; ``api`` names the caller in errors."""
        key = self._key(scopes)
        held = self._held.get(key)
        if held is not None and self._usable(held):
            return held.access_token
        fetch = self._flights.join(key, lambda _: self._fetch_once_across_instances(key, scopes))
        deadline = current_deadline()
        wait_s = FETCH_WAIT_S if deadline is None else min(FETCH_WAIT_S, deadline.remaining())
        try:
            # Shielded: a caller out of time stops waiting; the fetch runs on for the others.
            tokens = await asyncio.wait_for(asyncio.shield(fetch.task), wait_s)
        except TimeoutError:
            raise RemoteApiTokenUnavailable(api, f"{api}: no gateway token in time") from None
        except (IdentityError, LockBusy) as exc:
            raise RemoteApiTokenUnavailable(
                api, f"{api}: the gateway's token is unavailable"
            ) from exc
        return tokens.access_token

    def _key(self, scopes: tuple[str, ...]) -> str:
        """Per client and scope set; a keyed hash, so Redis shows neither."""
        subject = f"{self._oidc.client_id} {' '.join(sorted(set(scopes)))}"
        return KEY_PREFIX + self._keys.hex("client-token", subject)

    def _usable(self, tokens: TokenSet) -> bool:
        return not needs_refresh(tokens, self._skew_s, self._clock.time())

    async def _fetch_once_across_instances(self, key: str, scopes: tuple[str, ...]) -> TokenSet:
        shared = await self._read_shared(key)
        if shared is None:
            async with held_across_instances(
                self._redis,
                "bff:lock:client-token:" + key.removeprefix(KEY_PREFIX),
                timeout_s=FETCH_LOCK_TIMEOUT_S,
                wait_s=FETCH_WAIT_S,
                purpose="client_token",
            ):
                shared = await self._read_shared(key)  # another instance may have fetched it
                if shared is None:
                    shared = await self._fetch(key, scopes)
        self._held[key] = shared
        return shared

    async def _fetch(self, key: str, scopes: tuple[str, ...]) -> TokenSet:
        response = await self._oidc.client_credentials(scopes)
        now = self._clock.time()
        tokens = TokenSet(
            access_token=response.access_token,
            access_token_expires_at=response.expires_at,
            access_token_issued_at=now,
        )
        _logger.info("client_token_fetched", scopes=" ".join(scopes))
        await self._write_shared(key, tokens, now)
        return tokens

    async def _read_shared(self, key: str) -> TokenSet | None:
        if self._redis is None:
            return None
        try:
            sealed = await self._redis.get(key)
        except RedisError:
            _logger.warning("client_token_read_failed")
            return None
        if sealed is None:
            return None
        try:
            raw = self._cipher.decrypt(
                sealed.decode() if isinstance(sealed, bytes) else str(sealed), key.encode()
            )
            tokens = msgspec.json.decode(raw, type=TokenSet)
        except (DecryptionError, msgspec.DecodeError):
            return None
        return tokens if self._usable(tokens) else None

    async def _write_shared(self, key: str, tokens: TokenSet, now: float) -> None:
        if self._redis is None or tokens.access_token_expires_at is None:
            return
        lifetime = tokens.access_token_expires_at - now
        keep_ms = int((lifetime - min(self._skew_s, lifetime / 2)) * 1000)
        if keep_ms <= 0:
            return
        sealed = self._cipher.encrypt(msgspec.json.encode(tokens), key.encode())
        try:
            await self._redis.set(key, sealed, px=keep_ms)
        except RedisError:
            _logger.warning("client_token_write_failed")
