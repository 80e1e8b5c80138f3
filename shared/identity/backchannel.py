"""OIDC Back-Channel Logout 1.0: the IdP tells us a user's IdP session has ended.

Both gateways receive logout tokens addressed to their own client; the check and the effect are
the same: verify the token (:meth:`OidcRelyingParty.validate_logout_token`), refuse a replayed
``jti``, then end the sessions of that IdP session (or of the user, when the token names only
``sub``), web and mobile alike, since they share the session store.
"""

from __future__ import annotations

from shared.identity.errors import IdpUnavailable, LogoutTokenRejected, OidcError
from shared.identity.oidc import OidcRelyingParty
from shared.identity.one_time import OneTimeStore
from shared.identity.provider_jwts import CLOCK_LEEWAY_S, LOGOUT_TOKEN_MAX_AGE_S
from shared.identity.session_store import SessionStore
from shared.platform.logging import get_logger

MAX_LOGOUT_TOKEN_LENGTH = 16384

_logger = get_logger("bff.identity")


class BackchannelLogout:
    def __init__(
        self, oidc: OidcRelyingParty, sessions: SessionStore, one_time: OneTimeStore
    ) -> None:
        self._oidc = oidc
        self._sessions = sessions
        self._one_time = one_time

    async def receive(self, logout_token: str) -> int:
        """End the sessions the token names; returns how many ended."""
        if not logout_token or len(logout_token) > MAX_LOGOUT_TOKEN_LENGTH:
            raise LogoutTokenRejected("logout_token is required")
        try:
            claims = await self._oidc.validate_logout_token(logout_token)
        except IdpUnavailable:
            raise
        except OidcError as exc:
            _logger.info("backchannel_logout_rejected", reason=exc.reason)
            raise LogoutTokenRejected(f"The logout token was rejected: {exc.reason}") from None
        if not await self._one_time.remember_once(
            "logout-jti:" + str(claims["jti"]), LOGOUT_TOKEN_MAX_AGE_S + 2 * CLOCK_LEEWAY_S
        ):
            raise LogoutTokenRejected("The logout token was already used")
        if claims.get("sid"):
            ended = await self._sessions.end_by_idp_sid(str(claims["sid"]))
        else:
            ended = await self._sessions.end_all_for_user(str(claims["sub"]))
        _logger.info("backchannel_logout", sessions_ended=ended)
        return ended
