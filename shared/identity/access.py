"""What a session may do, read from the IdP's answers: roles, granted scopes, the login time.

* **Roles** come from one claim, named by ``BFF_AUTHZ_ROLES_CLAIM``; a dotted path
  (``realm_access.roles``) walks into nested objects. The value may be a list of strings or one
  space-separated string; anything else counts as no roles. The claim is read from the ID token,
  or, with ``BFF_AUTHZ_ROLES_SOURCE=userinfo`` (an IdP that puts roles only there), from the
  UserInfo response for the access token just issued, whose ``sub`` must be the session's.
* **Scopes** are the ones the IdP says it granted (the token response's ``scope``), not the
  ones asked for. A response without ``scope`` granted what was asked (RFC 6749 section 5.1),
  and a refresh without it keeps the scopes granted before (section 6).
* **The login time** is the ID token's ``auth_time`` carried onto the gateway's clock through
  the same token's ``iat``: ``authenticated_at = now - (iat - auth_time)``. Both numbers come
  from the IdP's clock, so a skew between the IdP and the gateway neither ages nor rejuvenates
  a login. Without ``auth_time`` the login time is unknown, and no recent-login policy passes.

A refresh re-reads roles from a validated ID token that came with it (or from UserInfo, with the
new access token); when it cannot, the session keeps the roles it had. The login time never
moves on a refresh (a refresh is not an authentication).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import msgspec

from shared.identity.dpop import DpopKey
from shared.identity.errors import OidcError
from shared.identity.oidc import OidcRelyingParty
from shared.identity.records import SessionAccess


@dataclass(frozen=True, slots=True)
class RolesSource:
    """Where a session's roles are read: ``claim`` (a path) of the ID token, or of UserInfo."""

    claim: tuple[str, ...] = ("roles",)
    userinfo: bool = False

    async def read(
        self,
        oidc: OidcRelyingParty,
        *,
        id_token_claims: Mapping[str, Any] | None,
        access_token: str,
        sub: str,
        dpop_key: DpopKey | None = None,
    ) -> frozenset[str] | None:
        """The roles the IdP states now; None when it said nothing about them (a refresh
        without an ID token). Raises ``OidcError``/``IdpUnavailable`` when UserInfo fails."""
        if not self.userinfo:
            if id_token_claims is None:
                return None
            if id_token_claims.get("sub") != sub:  # OIDC Core 12.2, for a refreshed ID token
                raise OidcError("the ID token is about another user")
            return roles_from_claims(id_token_claims, self.claim)
        info = await oidc.userinfo(access_token, dpop_key=dpop_key)
        if info.get("sub") != sub:
            raise OidcError("the UserInfo response is about another user")
        return roles_from_claims(info, self.claim)


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
    id_token_claims: Mapping[str, Any],
    *,
    roles: frozenset[str] | None,
    granted: str | None,
    asked: Sequence[str],
    now: float,
) -> SessionAccess:
    return SessionAccess(
        roles=roles or frozenset(),
        scopes=granted_scopes(granted, asked),
        authenticated_at=authenticated_at(id_token_claims, now),
    )


def access_after_refresh(
    previous: SessionAccess, *, roles: frozenset[str] | None, granted: str | None
) -> SessionAccess:
    """Roles as the IdP states them now (None: as before), scopes as now granted, same login."""
    return msgspec.structs.replace(
        previous,
        roles=previous.roles if roles is None else roles,
        scopes=previous.scopes if granted is None else frozenset(granted.split()),
    )


def is_epoch_time(value: object) -> TypeGuard[int | float]:
    """A JWT NumericDate: a JSON number (``true`` is not one, though Python says it is)."""
    return isinstance(value, int | float) and not isinstance(value, bool)
