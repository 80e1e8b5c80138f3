"""What a session may do, read from the IdP's answers: roles, granted scopes, the login time.

* **Roles** come from one claim of the ID token, named by ``BFF_AUTHZ_ROLES_CLAIM``; a dotted
  path (``realm_access.roles``) walks into nested objects. The value may be a list of strings
  or one space-separated string; anything else counts as no roles.
* **Scopes** are the ones the IdP says it granted (the token response's ``scope``), not the
  ones asked for. A response without ``scope`` granted what was asked (RFC 6749 section 5.1),
  and a refresh without it keeps the scopes granted before (section 6).
* **The login time** is the ID token's ``auth_time`` carried onto the gateway's clock through
  the same token's ``iat``: ``authenticated_at = now - (iat - auth_time)``. Both numbers come
  from the IdP's clock, so a skew between the IdP and the gateway neither ages nor rejuvenates
  a login. Without ``auth_time`` the login time is unknown, and no recent-login policy passes.

A refresh re-reads roles only from an ID token that came with it and was validated; the login
time never moves on a refresh (a refresh is not an authentication).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

import msgspec

from shared.identity.records import SessionAccess


def roles_from_claims(claims: Mapping[str, Any], path: Sequence[str]) -> frozenset[str]:
    """The roles at ``path`` in ``claims``: a list of strings or a space-separated string."""
    value: Any = claims
    for step in path:
        if not isinstance(value, Mapping):
            return frozenset()
        value = value.get(step)
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(role for role in value if isinstance(role, str) and role)
    return frozenset()


def granted_scopes(granted: str | None, asked: Sequence[str]) -> frozenset[str]:
    """The scopes of a token response (RFC 6749 5.1: absent means as asked)."""
    return frozenset(granted.split() if granted is not None else asked)


def authenticated_at(claims: Mapping[str, Any], now: float) -> float | None:
    """The ID token's ``auth_time`` on the gateway's clock (``now`` is when it was validated)."""
    auth_time, issued_at = claims.get("auth_time"), claims.get("iat")
    if not is_epoch_time(auth_time) or not is_epoch_time(issued_at):
        return None
    return now - max(0.0, issued_at - auth_time)


def access_at_login(
    claims: Mapping[str, Any],
    *,
    granted: str | None,
    asked: Sequence[str],
    roles_claim: Sequence[str],
    now: float,
) -> SessionAccess:
    return SessionAccess(
        roles=roles_from_claims(claims, roles_claim),
        scopes=granted_scopes(granted, asked),
        authenticated_at=authenticated_at(claims, now),
    )


def access_after_refresh(
    previous: SessionAccess,
    *,
    claims: Mapping[str, Any] | None,
    granted: str | None,
    roles_claim: Sequence[str],
) -> SessionAccess:
    """Roles from a refreshed ID token (when one came), scopes as now granted, same login."""
    roles = previous.roles if claims is None else roles_from_claims(claims, roles_claim)
    scopes = previous.scopes if granted is None else frozenset(granted.split())
    return msgspec.structs.replace(previous, roles=roles, scopes=scopes)


def is_epoch_time(value: object) -> TypeGuard[int | float]:
    """A JWT NumericDate: a JSON number (``true`` is not one, though Python says it is)."""
    return isinstance(value, int | float) and not isinstance(value, bool)
