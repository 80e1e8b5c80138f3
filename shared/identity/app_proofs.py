"""Sender-constrained app tokens (RFC 9449) at the mobile gateway: which app requests need a
DPoP proof, and checking each proof once.

``BFF_MOBILE_DPOP`` says what a new app session may be:

* ``optional`` (default): a proof at code redemption binds the new session to the proof's key;
  without one the session is a Bearer one;
* ``required``: every new session is bound; a code redemption without a proof is refused, and
  so is any Bearer token still around from before the switch;
* ``off``: the header is ignored at code redemption; every new session is a Bearer one.

The binding (the key's RFC 7638 thumbprint, ``jkt``) is kept in the session's token family
(``shared.identity.token_family``) and fixed for the session's life: every later call with its
tokens (``/m/v1/*``, refresh, logout) needs a proof from that same key, whatever the mode is
set to later, so a bound session never becomes a Bearer one and a copied token (access or
refresh) is useless without the private key. A refresh refused for its proof is not refresh
token reuse: the token stays usable by the holder of the key (see ``MobileTokenHandler``).

A proof is checked (``shared.identity.dpop.verify_proof``) for the URL the app called as this
gateway's public URL (``BFF_PUBLIC_URL``) plus the request's path, never the ``Host`` header a
client or proxy chose. Its ``jti`` is remembered in the one-time store (Redis: shared by every
instance) for as long as the proof would be accepted, so a replay is refused on any instance.
The gateway asks for no server nonce (section 8 makes it optional): the proof's short ``iat``
window and the replay memory bound its use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.identity.dpop import (
    InvalidDpopProof,
    VerifiedProof,
    replay_window_s,
    verify_proof,
)
from shared.identity.errors import DpopProofRefused, DpopTokenRefused, GrantRefused, NotSignedIn
from shared.identity.one_time import OneTimeStore
from shared.platform.clock import Clock
from shared.platform.settings import MobileDpopMode

DPOP_SCHEME = "dpop"
BEARER_SCHEME = "bearer"

_REPLAY_PREFIX = "app-dpop-jti:"


@dataclass(frozen=True, slots=True)
class AppRequest:
    """What the check of an app's request needs: its method, its path, and every ``DPoP``
    header it carried (exactly one is a proof; two are refused, not chosen between)."""

    method: str
    path: str
    proofs: tuple[str, ...] = field(default=(), repr=False)


class AppProofs:
    """The proofs of the apps' requests, checked per ``BFF_MOBILE_DPOP``."""

    def __init__(
        self, mode: MobileDpopMode, public_url: str, one_time: OneTimeStore, clock: Clock
    ) -> None:
        self.mode = mode
        self._public_url = public_url.rstrip("/")
        self._one_time = one_time
        self._clock = clock

    async def binding_for_login(self, request: AppRequest) -> str:
        """The ``jkt`` a session opened by this code redemption is bound to; "" for a Bearer
        session (no proof in ``optional`` mode, or ``off``)."""
        if self.mode == "off":
            return ""
        if not request.proofs and self.mode == "optional":
            return ""
        return (await self.check(request)).jkt

    async def check_refresh(self, request: AppRequest, bound_jkt: str) -> None:
        """A refresh of a bound session needs a proof from its key. A Bearer session stays one
        (a good proof does not bind it midway; a bad one is still refused), and is refused
        altogether where only DPoP is accepted: the app must log in again."""
        if bound_jkt:
            await self.check(request, bound_jkt=bound_jkt)
        elif self.mode == "required":
            raise GrantRefused("The session's tokens are not sender-constrained; log in again")
        elif self.mode == "optional" and request.proofs:
            await self.check(request)

    async def check_resource(
        self, request: AppRequest, scheme: str, access_token: str, bound_jkt: str
    ) -> None:
        """A call with a session's current access token (RFC 9449 7): a bound token only as
        ``DPoP <token>`` with a proof of its key and hash, an unbound one only as Bearer."""
        if bound_jkt:
            if scheme != DPOP_SCHEME:
                raise DpopTokenRefused(
                    "The access token is DPoP-bound: send it as 'DPoP <token>' with a DPoP proof"
                )
            await self.check(request, access_token=access_token, bound_jkt=bound_jkt)
        elif scheme == DPOP_SCHEME:
            raise DpopTokenRefused("The access token is not DPoP-bound")
        elif self.mode == "required":
            raise DpopTokenRefused("Only DPoP-bound access tokens are accepted")

    def token_refused(
        self, detail: str, *, scheme: str = "", credentials_sent: bool = True
    ) -> NotSignedIn:
        """The refusal of a missing or unknown token: with a DPoP challenge where DPoP was
        used or is the only scheme accepted, else with a Bearer one (RFC 6750 3.1)."""
        if scheme == DPOP_SCHEME or self.mode == "required":
            return DpopTokenRefused(detail, credentials_sent=credentials_sent)
        return NotSignedIn(detail, credentials_sent=credentials_sent)

    async def check(
        self,
        request: AppRequest,
        *,
        access_token: str | None = None,
        bound_jkt: str | None = None,
    ) -> VerifiedProof:
        """The request's one proof, checked (section 4.3) and its ``jti`` claimed once."""
        if len(request.proofs) != 1:
            raise DpopProofRefused(
                "A DPoP proof is required" if not request.proofs else "Send one DPoP header"
            )
        try:
            verified = verify_proof(
                request.proofs[0],
                method=request.method,
                url=self._public_url + request.path,
                now=self._clock.time(),
                access_token=access_token,
                bound_jkt=bound_jkt,
            )
        except InvalidDpopProof as exc:
            raise DpopProofRefused(f"The DPoP proof was refused: {exc}") from None
        replay_key = f"{_REPLAY_PREFIX}{verified.jkt}:{verified.jti}"
        if not await self._one_time.remember_once(replay_key, replay_window_s()):
            raise DpopProofRefused("The DPoP proof was already used")
        return verified
