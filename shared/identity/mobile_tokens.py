"""The token handler for native apps (RFC 8252, RFC 7636): the core the mobile endpoints call.

The app never holds an IdP token. It holds two random strings (256 bits each) that mean nothing
outside this gateway: an access token (``ACCESS_TOKEN_TTL_S``) for ``/m/v1/*``, and a refresh
token traded once at ``POST /auth/token`` for a new pair. The first pair comes from a one-time
code (``shared.identity.app_codes``, which owns the login hand-off and its threats: an
intercepted code, a login finished in another browser); a second redemption of a code ends the
session the first one opened. Threats this stops:

* **A copy of the store yields no bearer.** Tokens are indexed by their keyed hash only.
* **A stolen refresh token is good for one use at most, and its use is noticed.** The session
  keeps its token family in ``extra[FAMILY_KEY]``: the hashes of the one current refresh token
  and of the access token minted with it, and a generation count. A rotated-out refresh token
  still finds its session, so whoever presents it second, thief or app, is recognised as reuse,
  and the whole session ends (every token of it stops working, the IdP token is revoked).
* **Two presentations racing each other.** Rotating first claims the presented token with
  ``remember_once`` (one ``SET NX``): only one caller can mint a successor. Within the reuse
  window (``shared.identity.refresh_reuse``) the others get that same successor, never a
  third pair; after it, or once the successor was used, they are reuse.
* **A stolen access token is short-lived and dies with the next rotation**: the bearer reader
  accepts only the family's current access hash, before its expiry, of a live mobile session.
* **A copied token of a sender-constrained session is useless** (``BFF_MOBILE_DPOP``): a
  session opened with a DPoP proof is bound to its key for life, and every later use of its
  tokens needs a proof from that key (``shared.identity.app_proofs``). The proof is checked
  before the refresh token is claimed, so a refresh refused for its proof is not reuse: it
  leaves the session and the token as they were, for the holder of the key.

Strict rotation has a price, which the reuse window pays: without it, an app that loses the
response to a refresh and retries with the same refresh token ends its own session.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass

from shared.identity.app_codes import AppCodes
from shared.identity.app_proofs import BEARER_SCHEME, DPOP_SCHEME, AppProofs, AppRequest
from shared.identity.errors import GrantRefused
from shared.identity.login import LoginFlow
from shared.identity.one_time import OneTimeStore
from shared.identity.records import SessionRecord
from shared.identity.refresh_reuse import RefreshReuseWindow, SuccessorPair
from shared.identity.sessions import SessionManager
from shared.identity.token_family import TokenFamily, read_family, with_family
from shared.identity.token_index import OPAQUE_FORMAT, TokenIndex, find_token
from shared.platform.crypto import new_opaque_id
from shared.platform.keys import KeyedHasher
from shared.platform.logging import get_logger
from shared.platform.redis import Rider

ACCESS_TOKEN_TTL_S = 300
DEFAULT_REFRESH_REUSE_S = 10.0

_REFRESH_CLAIM_PREFIX = "mobile-refresh-used:"

_logger = get_logger("bff.mobile.tokens")


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """A new pair for the app, in clear: only ever in the token response, never stored."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - "DPoP" for a bound session; not a secret

    def __repr__(self) -> str:
        return f"IssuedTokens(<redacted>, expires_in={self.expires_in}, {self.token_type})"


def token_type_of(family: TokenFamily) -> str:
    return "DPoP" if family.jkt else "Bearer"


class MobileTokenHandler:
    """The apps' opaque tokens: the first pair for a redeemed code, rotation, the bearer
    reader. ``codes`` is the login hand-off the gateway's ``/auth`` routes start with."""

    def __init__(
        self,
        login: LoginFlow,
        sessions: SessionManager,
        one_time: OneTimeStore,
        tokens: TokenIndex,
        keys: KeyedHasher,
        proofs: AppProofs,
        *,
        refresh_reuse_s: float = DEFAULT_REFRESH_REUSE_S,
    ) -> None:
        self.codes = AppCodes(login, one_time, tokens, keys, sessions.clock)
        self.proofs = proofs
        self.sessions = sessions
        self._one_time = one_time
        self._tokens = tokens
        self._keys = keys
        self.clock = sessions.clock
        self.reuse = RefreshReuseWindow(one_time, sessions.clock, refresh_reuse_s)
        self.access_token_ttl_s = float(ACCESS_TOKEN_TTL_S)

    # --- the code's redemption -------------------------------------------------------------------

    async def redeem_code(
        self,
        code: str,
        verifier: str,
        redirect_uri: str | None,
        user_agent: str | None,
        request: AppRequest,
    ) -> IssuedTokens:
        """A new session and its first pair for a one-time code and the app's PKCE verifier,
        bound to the key of the request's DPoP proof, if any. The proof is checked before the
        code is taken, so a refused proof leaves the code for a retry."""
        if not OPAQUE_FORMAT.fullmatch(code):
            raise GrantRefused("The code is not valid")
        jkt = await self.proofs.binding_for_login(request)
        issued = await self.codes.take(code, verifier, redirect_uri)
        if issued is None:
            await self._end_session_of_replayed_code(code)
            raise GrantRefused("The code is not valid, has expired or was already used")
        now = self.clock.time()
        tokens, family = self._mint(1, now, now + self.sessions.absolute_timeout_s, jkt=jkt)
        record = await self.sessions.open(
            kind="mobile",
            sub=issued.sub,
            tokens=issued.tokens,
            claims=issued.claims,
            idp_sid=issued.idp_sid,
            user_agent=user_agent,
            extra=with_family({}, family),
            access=issued.access,
        )
        await self._index(record.id, family, now, record.absolute_expires_at)
        await self.codes.remember_redeemed(code, record.id)
        return tokens

    async def _end_session_of_replayed_code(self, code: str) -> None:
        """RFC 6749 4.1.2: a code used twice revokes what it was first redeemed for."""
        session_id = await self.codes.session_redeemed_with(code)
        if session_id is None:
            return
        record = await self.sessions.store.get(session_id)
        if record is not None:
            await self.end(record)
        _logger.warning("authorization_code_replay")

    # --- the app's tokens -------------------------------------------------------------------------

    async def rotate(self, refresh_token: str, request: AppRequest) -> IssuedTokens:
        """Trade a current refresh token for a new pair. The one just rotated out gets that same
        pair again within the reuse window; any other reuse ends the session. A bound session's
        token needs a proof of its key first: without one nothing is claimed or ended."""
        found = await self._find("refresh", refresh_token)
        if found is None:
            raise GrantRefused("The refresh token is not valid")
        session_id, presented_hash = found
        record = await self.sessions.load(session_id, slide=False)
        if record is None or record.kind != "mobile":
            raise GrantRefused("The session has ended")
        family = read_family(record)
        if family is None:
            raise GrantRefused("The session has no token family")
        # Before anything is claimed or slid: a copied token without the key changes nothing.
        await self.proofs.check_refresh(request, family.jkt)
        record = await self.sessions.slide(record)
        now = self.clock.time()
        if hmac.compare_digest(
            presented_hash, family.refresh_hash
        ) and await self._one_time.remember_once(
            _REFRESH_CLAIM_PREFIX + presented_hash, max(1.0, record.absolute_expires_at - now)
        ):
            return await self._rotate(record, family, presented_hash, now)

        async def current_family() -> TokenFamily | None:
            current = await self.sessions.store.get(session_id)
            return None if current is None else read_family(current)

        successor = await self.reuse.successor_for(presented_hash, current_family)
        if successor is not None:
            _logger.info("mobile_refresh_reused_within_window", generation=family.generation)
            expires_in = math.floor(successor.access_expires_at - self.clock.time())
            return IssuedTokens(
                successor.access_token, successor.refresh_token, expires_in, token_type_of(family)
            )
        await self.end(record)
        _logger.warning("refresh_token_reuse", generation=family.generation)
        raise GrantRefused("The refresh token was already used; the session has ended")

    async def _rotate(
        self, record: SessionRecord, family: TokenFamily, presented_hash: str, now: float
    ) -> IssuedTokens:
        """The claimed token's successor: minted, indexed and published for the reuse window
        before the family moves on to it (so that a parallel presentation finds it)."""
        issued, renewed = self._mint(
            family.generation + 1,
            now,
            record.absolute_expires_at,
            replacing=presented_hash,
            jkt=family.jkt,
        )
        await self._index(record.id, renewed, now, record.absolute_expires_at)
        await self.reuse.publish(
            presented_hash,
            SuccessorPair(issued.access_token, issued.refresh_token, renewed.access_expires_at),
        )
        extra = with_family(record.extra, renewed)
        if not await self.sessions.store.update_extra(record.id, extra):
            await self._drop(renewed)
            raise GrantRefused("The session has ended")
        # The rotated-out refresh entry stays: it is how a later replay is recognised.
        await self._tokens.drop("access", family.access_hash)
        _logger.info("mobile_tokens_rotated", generation=renewed.generation)
        return issued

    async def session_for_access(
        self, authorization: str | None, request: AppRequest, rider: Rider | None = None
    ) -> SessionRecord:
        """The live mobile session of ``Authorization: Bearer <current access token>``, or of
        ``DPoP <token>`` with the proof its binding needs (``AppProofs.check_resource``).

        ``NotSignedIn`` otherwise, saying whether a token was sent at all (RFC 6750 3.1), as
        ``DpopTokenRefused`` where the answer is a DPoP challenge. ``rider``'s commands (the
        request's rate-limit count) travel with the session's read."""
        if not authorization:
            raise self.proofs.token_refused("An access token is required", credentials_sent=False)
        scheme, _, token = authorization.partition(" ")
        scheme, token = scheme.lower(), token.strip()
        if scheme not in (BEARER_SCHEME, DPOP_SCHEME) or not token:
            raise self.proofs.token_refused(
                "The Authorization header must be 'Bearer <access token>' or 'DPoP <access token>'"
            )
        found = await self._current_family_of(token, rider)
        if found is None:
            raise self.proofs.token_refused(
                "The access token is not valid or has expired", scheme=scheme
            )
        record, family = found
        await self.proofs.check_resource(request, scheme, token, family.jkt)
        await self.reuse.note_use(family)
        return await self.sessions.slide(record)

    async def _current_family_of(
        self, token: str, rider: Rider | None = None
    ) -> tuple[SessionRecord, TokenFamily] | None:
        """The live mobile session whose current, unexpired access token this is."""
        found = await self._find("access", token)
        if found is None:
            return None
        session_id, token_hash = found
        record = await self.sessions.load(session_id, slide=False, rider=rider)
        if record is None or record.kind != "mobile":
            return None
        # This check, on the record as Redis has it now, is what refuses a rotated-out or
        # expired token whose index entry an instance still remembers (RedisTokenIndex).
        family = read_family(record)
        if (
            family is None
            or not hmac.compare_digest(token_hash, family.access_hash)
            or self.clock.time() >= family.access_expires_at
        ):
            return None
        return record, family

    async def end(self, record: SessionRecord) -> None:
        """End the session everywhere, revoke its IdP refresh token, drop its current pair."""
        family = read_family(record)
        if family is not None:
            await self._drop(family)
        await self.sessions.end(record)

    # --- helpers --------------------------------------------------------------------------------

    def _mint(
        self,
        generation: int,
        now: float,
        session_expires_at: float,
        *,
        replacing: str = "",
        jkt: str = "",
    ) -> tuple[IssuedTokens, TokenFamily]:
        """A fresh random pair and the family record that names it by hash (nothing stored);
        ``replacing`` is the hash of the refresh token it rotates out, ``jkt`` the DPoP key
        the session is bound to."""
        access_token, refresh_token = new_opaque_id(), new_opaque_id()
        lifetime = max(1.0, min(self.access_token_ttl_s, session_expires_at - now))
        family = TokenFamily(
            generation=generation,
            refresh_hash=self._keys.hex("token", refresh_token),
            access_hash=self._keys.hex("token", access_token),
            access_expires_at=now + lifetime,
            previous_refresh_hash=replacing,
            rotated_at=now if replacing else 0.0,
            jkt=jkt,
        )
        issued = IssuedTokens(
            access_token, refresh_token, math.floor(lifetime), token_type_of(family)
        )
        return issued, family

    async def _index(
        self, session_id: str, family: TokenFamily, now: float, session_expires_at: float
    ) -> None:
        """Make a minted pair usable. The refresh entry lives as long as the session can, so
        that its reuse is still recognised after it has been rotated out."""
        await self._tokens.add(
            "access", family.access_hash, session_id, family.access_expires_at - now
        )
        await self._tokens.add(
            "refresh", family.refresh_hash, session_id, max(1.0, session_expires_at - now)
        )

    async def _drop(self, family: TokenFamily) -> None:
        await self._tokens.drop("access", family.access_hash)
        await self._tokens.drop("refresh", family.refresh_hash)

    async def _find(self, kind: str, token: str) -> tuple[str, str] | None:
        return await find_token(self._tokens, self._keys, kind, token)
