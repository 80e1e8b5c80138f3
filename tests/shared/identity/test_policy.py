"""Route policies: roles, granted scopes and login age, checked on a session's access."""

from __future__ import annotations

import pytest

from shared.identity.errors import PolicyRefused, StepUpRequired
from shared.identity.policy import (
    AUTHENTICATED,
    PUBLIC,
    declare,
    requires,
    route_policy,
)
from shared.identity.records import SessionAccess
from shared.platform.route_policy import PUBLIC_ROUTE

NOW = 1_800_000_000.0
SUPPORT = SessionAccess(
    roles=frozenset({"support", "staff"}),
    scopes=frozenset({"openid", "orders:write"}),
    authenticated_at=NOW - 60,
)


def test_a_signed_in_session_passes_the_authenticated_policy_whatever_it_holds() -> None:
    AUTHENTICATED.check(SessionAccess(), NOW)


def test_every_role_and_every_scope_named_are_needed() -> None:
    requires(roles=["support"], scopes=["orders:write"]).check(SUPPORT, NOW)
    for policy in (
        requires(roles=["support", "admin"]),
        requires(scopes=["orders:write", "orders:delete"]),
        requires(roles=["admin"]),
    ):
        with pytest.raises(PolicyRefused):
            policy.check(SUPPORT, NOW)


def test_a_login_older_than_the_limit_or_of_unknown_age_asks_for_a_step_up() -> None:
    recent = requires(max_auth_age_s=600)
    recent.check(SUPPORT, NOW)
    recent.check(SUPPORT, NOW - 60 + 600)
    with pytest.raises(StepUpRequired) as raised:
        recent.check(SUPPORT, NOW - 60 + 601)
    assert raised.value.max_age_s == 600
    with pytest.raises(StepUpRequired):
        recent.check(SessionAccess(roles=SUPPORT.roles), NOW)


def test_a_missing_role_is_refused_before_the_login_age_is_looked_at() -> None:
    """A new login would not give the role: the answer is 403, not a step-up."""
    stale = SessionAccess(authenticated_at=NOW - 10_000)
    with pytest.raises(PolicyRefused):
        requires(roles=["support"], max_auth_age_s=600).check(stale, NOW)


def test_routes_declare_policies_in_opt_and_undeclared_routes_are_refused() -> None:
    policy = requires(roles=["support"])
    assert route_policy(declare(policy)) is policy
    assert route_policy(declare(PUBLIC)) == PUBLIC
    assert route_policy(PUBLIC_ROUTE) == PUBLIC
    for undeclared in ({}, {"policy": None}, {"policy": "anyone"}, {"policy": {"roles": []}}):
        with pytest.raises(PolicyRefused):
            route_policy(undeclared)
