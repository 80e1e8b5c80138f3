"""The login hand-off to a native app (RFC 8252, RFC 7636): the one-time code that stands for a
finished IdP login until the app redeems it with its PKCE verifier.

* **An intercepted one-time code** (another app claiming the same custom scheme) is useless
  without the app's PKCE verifier; it lives ``CODE_TTL_S`` and works once. A redeemed code is
  remembered (``USED_CODE_MEMORY_S``, by its keyed hash) with the session it opened, so that a
  second redemption can end that session (RFC 6749 4.1.2): one of the two was a thief.
* **A login finished in another browser**: the pending attempt lives only in a sealed cookie
  of the browser that started it (``shared.identity.login_cookie``), so an anonymous
  ``/auth/authorize`` leaves nothing on the server.

What a redeemed code opens (the session, its first token pair) is the token handler's
(``shared.identity.mobile_tokens``); this module only issues, takes and remembers codes.
"""

from __future__ import annotations

import hmac
from typing import Any

import msgspec
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from shared.identity.errors import GrantRefused
from shared.identity.login import LOGIN_TTL_S, LoginFlow, LoginOptions, LoginResult
from shared.identity.login_cookie import PendingLogin
from shared.identity.one_time import OneTimeStore
from shared.identity.records import SessionAccess, TokenSet
from shared.identity.token_index import TokenIndex, find_token
from shared.platform.clock import Clock
from shared.platform.crypto import new_opaque_id
from shared.platform.keys import KeyedHasher
from shared.platform.logging import get_logger

CODE_TTL_S = 60
USED_CODE_MEMORY_S = 600  # how long a redeemed code is remembered, to spot its replay

_CODE_PREFIX = "mobile-code:"
_USED_CODE_KIND = "used-code"

_logger = get_logger("bff.mobile.tokens")


class AppAuthorization(msgspec.Struct, frozen=True):
    """What the app asked for at ``/auth/authorize``; kept until its code is redeemed."""

    redirect_uri: str
    state: str
    code_challenge: str


class PendingAppLogin(PendingLogin, frozen=True):
    """One app login in progress at the IdP, kept in the browser's sealed login cookie."""

    app: AppAuthorization


class IssuedCode(msgspec.Struct, frozen=True):
    """What a one-time code stands for, stored sealed for ``CODE_TTL_S``."""

    app: AppAuthorization
    sub: str
    idp_sid: str | None
    claims: dict[str, Any]
    tokens: TokenSet
    access: SessionAccess = SessionAccess()


class AppCodes:
    """Logins handed off to apps: begun, turned into a one-time code, taken once."""

    def __init__(
        self,
        login: LoginFlow,
        one_time: OneTimeStore,
        tokens: TokenIndex,
        keys: KeyedHasher,
        clock: Clock,
    ) -> None:
        self.login = login
        self._one_time = one_time
        self._tokens = tokens
        self._keys = keys
        self.clock = clock
        self.code_ttl_s = float(CODE_TTL_S)

    async def begin(
        self, app: AppAuthorization, options: LoginOptions | None = None
    ) -> tuple[str, PendingAppLogin]:
        """Start the IdP login for the app: the authorization URL, and the entry the browser
        keeps (sealed, in its login cookie) until the callback. ``options`` carry a step-up's
        ``prompt=login`` and ``max_age`` through to the IdP."""
        url, attempt = await self.login.begin(options)
        expires_at = self.clock.time() + LOGIN_TTL_S
        return url, PendingAppLogin(attempt=attempt, expires_at=expires_at, app=app)

    async def issue(self, app: AppAuthorization, result: LoginResult) -> str:
        """A one-time code standing for the finished login, for the app to redeem."""
        issued = IssuedCode(
            app=app,
            sub=result.sub,
            idp_sid=result.idp_sid,
            claims=result.claims,
            tokens=result.tokens,
            access=result.access,
        )
        code = new_opaque_id()
        await self._one_time.put(
            _CODE_PREFIX + code, msgspec.msgpack.encode(issued), self.code_ttl_s
        )
        _logger.info("mobile_code_issued")
        return code

    async def take(self, code: str, verifier: str, redirect_uri: str | None) -> IssuedCode | None:
        """What the code stands for, taken (it works once) and checked against the app's PKCE
        verifier and redirect URI; None when it is unknown, expired or already taken, which the
        caller may answer with :meth:`session_redeemed_with`."""
        raw = await self._one_time.take(_CODE_PREFIX + code)
        if raw is None:
            return None
        try:
            issued = msgspec.msgpack.decode(raw, type=IssuedCode)
        except msgspec.DecodeError:
            raise GrantRefused("The code is not valid") from None
        challenge = str(create_s256_code_challenge(verifier))
        if not hmac.compare_digest(challenge.encode(), issued.app.code_challenge.encode()):
            raise GrantRefused("The code_verifier does not match the code_challenge")
        if redirect_uri is not None and redirect_uri != issued.app.redirect_uri:
            raise GrantRefused("The redirect_uri does not match the authorization request")
        return issued

    async def remember_redeemed(self, code: str, session_id: str) -> None:
        """Remember which session the code opened, so that its replay can end it."""
        await self._tokens.add(
            _USED_CODE_KIND, self._keys.hex("token", code), session_id, USED_CODE_MEMORY_S
        )

    async def session_redeemed_with(self, code: str) -> str | None:
        """The session a redeemed code opened, while it is remembered."""
        found = await find_token(self._tokens, self._keys, _USED_CODE_KIND, code)
        return None if found is None else found[0]
