"""Revoking a refresh token that belongs to the other gateway's client.

An IdP accepts a revocation only from the client the token was issued to (RFC 7009). When the
web gateway ends a mobile session (support's "end every session", the per-user session cap), its
own client cannot revoke that session's IdP refresh token. It hands the token over instead: the
session's sealed token set and its id go on a Redis list named for the owning gateway, and that
gateway takes them off and revokes with its own client.

    bff:revoke:{mobile}   LIST   msgpack [session id, sealed tokens]   kept a day at most

Nothing is revealed on the way: the entry is the ciphertext the session store already held, and
it opens only with the gateways' secret key and that session's id. Without Redis the gateways are
separate processes with separate stores, so neither can see the other's sessions to begin with.
"""

from __future__ import annotations

import asyncio
from typing import Final

import msgspec
from redis.exceptions import RedisError

from shared.identity.dpop import session_key
from shared.identity.errors import IdpUnavailable
from shared.identity.oidc import OidcRelyingParty
from shared.identity.records import EncryptedTokens, SessionKind, SessionRecord
from shared.identity.session_codec import SessionCodec
from shared.platform.crypto import DecryptionError
from shared.platform.logging import get_logger
from shared.platform.redis import RedisClient

_LIST_TTL_S: Final = 86_400
_WAIT_S: Final = 1
"""Seconds a BLPOP waits: shorter than the client's socket timeout (2 s), which would cut it."""
_RETRY_S: Final = 5
_logger = get_logger("bff.identity")


def handoff_list(kind: SessionKind) -> str:
    return f"bff:revoke:{{{kind}}}"


class RevocationHandoff:
    """``hand_off`` a session of the other kind; ``run`` revokes what was handed to this one."""

    def __init__(
        self, redis: RedisClient, codec: SessionCodec, oidc: OidcRelyingParty, own: SessionKind
    ) -> None:
        self._redis = redis
        self._codec = codec
        self._oidc = oidc
        self.own = own

    async def hand_off(self, record: SessionRecord) -> None:
        entry = msgspec.msgpack.encode([record.id, record.tokens.ciphertext])
        name = handoff_list(record.kind)
        pipe = self._redis.pipeline(transaction=False)  # one key: Cluster-safe
        pipe.rpush(name, entry)
        pipe.expire(name, _LIST_TTL_S)
        await pipe.execute()

    async def run(self) -> None:
        """Until cancelled: wait for entries on this gateway's list and revoke each."""
        name = handoff_list(self.own)
        while True:
            try:
                popped = await self._redis.blpop([name], timeout=_WAIT_S)
            except (RedisError, OSError) as exc:  # Redis away: try again after a pause
                _logger.warning("revocation_handoff_unavailable", error=type(exc).__name__)
                await asyncio.sleep(_RETRY_S)
                continue
            if popped is not None:
                entry = popped[1]
                await self._revoke(entry if isinstance(entry, bytes) else entry.encode())

    async def _revoke(self, entry: bytes) -> None:
        try:
            session_id, ciphertext = msgspec.msgpack.decode(entry, type=tuple[str, str])
            tokens = self._codec.open_sealed_tokens(session_id, EncryptedTokens(ciphertext))
        except (msgspec.DecodeError, msgspec.ValidationError, DecryptionError) as exc:
            _logger.warning("revocation_handoff_unreadable", error=type(exc).__name__)
            return
        if not tokens.refresh_token:
            return
        try:
            await self._oidc.revoke_refresh_token(
                tokens.refresh_token, dpop_key=session_key(tokens)
            )
        except IdpUnavailable:
            _logger.warning("token_revocation_skipped")
