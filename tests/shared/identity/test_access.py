"""What a session may do, read from the IdP's answers: roles, scopes and the login time."""

from __future__ import annotations

from typing import Any

import pytest

from shared.identity.access import (
    access_after_refresh,
    access_at_login,
    authenticated_at,
    granted_scopes,
    roles_from_claims,
)
from shared.identity.records import SessionAccess

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("claims", "path", "roles"),
    [
        ({"roles": ["support", "staff"]}, ("roles",), {"support", "staff"}),
        ({"roles": "support staff"}, ("roles",), {"support", "staff"}),
        ({"realm_access": {"roles": ["support"]}}, ("realm_access", "roles"), {"support"}),
        ({"realm_access": ["support"]}, ("realm_access", "roles"), set()),
        ({"roles": ["support", 7, None, ""]}, ("roles",), {"support"}),
        ({"roles": {"support": True}}, ("roles",), set()),
        ({"roles": True}, ("roles",), set()),
        ({}, ("roles",), set()),
    ],
)
def test_roles_come_from_the_configured_claim_path(
    claims: dict[str, Any], path: tuple[str, ...], roles: set[str]
) -> None:
    assert roles_from_claims(claims, path) == frozenset(roles)


def test_scopes_are_the_granted_ones_or_as_asked_when_the_idp_does_not_say() -> None:
    asked = ("openid", "profile", "offline_access")
    assert granted_scopes("openid profile", asked) == {"openid", "profile"}
    assert granted_scopes(None, asked) == set(asked)


def test_the_login_time_moves_onto_the_gateway_clock_through_iat() -> None:
    """The IdP's clock may be off: only the distance between its iat and auth_time counts."""
    skewed_idp = {"iat": NOW + 3_000, "auth_time": NOW + 3_000 - 120}
    assert authenticated_at(skewed_idp, NOW) == NOW - 120
    assert authenticated_at({"iat": NOW, "auth_time": NOW + 5}, NOW) == NOW  # never ahead
    for unknown in ({"iat": NOW}, {"auth_time": NOW}, {"iat": NOW, "auth_time": True}):
        assert authenticated_at(unknown, NOW) is None


def test_a_login_gives_roles_scopes_and_login_time() -> None:
    claims = {"sub": "support", "iat": NOW, "auth_time": NOW - 30}
    access = access_at_login(
        claims, roles=frozenset({"support"}), granted="openid email", asked=("openid",), now=NOW
    )
    assert access == SessionAccess(
        roles=frozenset({"support"}),
        scopes=frozenset({"openid", "email"}),
        authenticated_at=NOW - 30,
    )
    assert access_at_login(claims, roles=None, granted=None, asked=(), now=NOW).roles == set()


def test_a_refresh_renews_roles_and_scopes_but_never_the_login_time() -> None:
    before = SessionAccess(
        roles=frozenset({"support"}), scopes=frozenset({"openid"}), authenticated_at=NOW - 900
    )
    assert access_after_refresh(before, roles=None, granted=None) == before
    renewed = access_after_refresh(before, roles=frozenset(), granted="openid email")
    assert renewed == SessionAccess(
        roles=frozenset(), scopes=frozenset({"openid", "email"}), authenticated_at=NOW - 900
    )
