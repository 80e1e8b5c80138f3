"""DPoP (RFC 9449) between the gateway and its IdP: proofs on the requests authlib sends, and
the IdP's nonce (section 8).

authlib has no DPoP of its own, so each of its clients gets httpx event hooks: a request hook
signs a proof for the request as it is sent (after authlib added the client authentication),
for its own method and URL, and a response hook keeps the IdP's latest ``DPoP-Nonce``. The nonce
is kept in this process, one value per IdP: another instance or worker learns it from its own
first ``use_dpop_nonce`` answer. A step the IdP answers with ``use_dpop_nonce`` is made once
more, as a whole (``retried``): a new client assertion and a new proof, now with the nonce.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import msgspec

from shared.identity.dpop import NONCE_ERROR, NONCE_HEADER, DpopKey, NonceAsked
from shared.identity.errors import OidcError
from shared.platform.clock import Clock

T = TypeVar("T")
EventHooks = dict[str, list[Callable[..., Any]]]


class IdpNonce:
    """The IdP's latest DPoP nonce, and the hooks and retry that use it."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.value: str | None = None

    def event_hooks(self, key: DpopKey | None) -> EventHooks:
        """httpx event hooks for a client whose every request proves ``key`` (none: none)."""
        if key is None:
            return {}

        async def add_proof(request: httpx.Request) -> None:
            request.headers["DPoP"] = key.proof(
                request.method, str(request.url), now=self._clock.time(), nonce=self.value
            )

        return {"request": [add_proof], "response": [self.keep]}

    async def keep(self, response: httpx.Response) -> None:
        nonce = response.headers.get(NONCE_HEADER)
        if nonce:
            self.value = nonce

    async def retried(self, step: Callable[[], Awaitable[T]]) -> T:
        """One protocol step, made once more if the IdP asks for a (new) nonce
        (``NonceAsked``); asked again, it is an ``OidcError``."""
        try:
            return await step()
        except NonceAsked:
            pass
        try:
            return await step()
        except NonceAsked:
            raise OidcError("the identity provider refused the DPoP nonce") from None


def asks_for_nonce(response: httpx.Response) -> bool:
    """A ``use_dpop_nonce`` answer (sections 8 and 9): a token endpoint says it in its JSON
    error, a protected resource in its ``WWW-Authenticate`` challenge; either way with a nonce."""
    if not response.headers.get(NONCE_HEADER) or response.status_code not in (400, 401):
        return False
    if NONCE_ERROR in response.headers.get("www-authenticate", ""):
        return True
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return False
    return isinstance(body, dict) and body.get("error") == NONCE_ERROR
