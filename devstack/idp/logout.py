"""OIDC Back-Channel Logout 1.0 from the IdP's side: signed logout tokens, the sender that tells
each client of an ended login session, and the check of an RP-initiated logout's hint."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError

from devstack.idp.state import SIGNING_ALG, DevIdp, request_issuer
from shared.platform.logging import get_logger

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_LIFETIME_S = 120
BACKCHANNEL_DELIVERY_TIMEOUT_S = 5.0

logger = get_logger("devstack.idp")  # the dev IdP's one logger, whichever module logs


def make_logout_token(
    idp: DevIdp, *, issuer: str, client_id: str, sub: str | None, sid: str | None
) -> str:
    """A signed OIDC Back-Channel Logout token for ``client_id`` (at least one of sub/sid)."""
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_LIFETIME_S,
        "jti": secrets.token_urlsafe(16),
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    if sub:
        claims["sub"] = sub
    if sid:
        claims["sid"] = sid
    header = {"alg": SIGNING_ALG, "kid": idp.signing_key.kid, "typ": "logout+jwt"}
    return jwt.encode(header, claims, idp.signing_key, algorithms=[SIGNING_ALG])


def end_login_session(idp: DevIdp, sid: str) -> None:
    """End one login session and tell each of its clients that has a back-channel URI.

    Delivery is synchronous, so by the time the browser is redirected back to the client, the
    client has ended its session. A failed delivery is logged, not retried (spec section 2.7).
    """
    session = idp.sessions.end(sid)
    if session is None:
        return
    for client_id in sorted(session.client_ids):
        uri = idp.backchannel_logout_uris.get(client_id)
        if uri is None:
            continue
        token = make_logout_token(
            idp, issuer=request_issuer(), client_id=client_id, sub=session.sub, sid=sid
        )
        try:
            response = httpx.post(
                uri, data={"logout_token": token}, timeout=BACKCHANNEL_DELIVERY_TIMEOUT_S
            )
            logger.info(
                "backchannel_logout_sent",
                client_id=client_id,
                uri=uri,
                status=response.status_code,
            )
        except httpx.HTTPError as exc:
            logger.warning(
                "backchannel_logout_failed", client_id=client_id, uri=uri, error=repr(exc)
            )


def verify_id_token_hint(idp: DevIdp, hint: str) -> dict[str, Any] | None:
    """The hint's claims if this IdP signed it for this issuer; expiry is deliberately not
    checked (RP-Initiated Logout 1.0 section 2: an expired ID token is a valid hint)."""
    try:
        token = jwt.decode(hint, idp.signing_key, algorithms=[SIGNING_ALG])
    except (JoseError, ValueError):
        return None
    if token.claims.get("iss") != request_issuer() or not token.claims.get("sub"):
        return None
    return token.claims
