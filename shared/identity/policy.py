"""Authorization per route: each route declares a policy, checked on the loaded session.

A route says who may call it next to its path, in the handler's ``opt``::

    @get("/api/home", opt=declare(AUTHENTICATED))
    @get("/health/live", opt=PUBLIC_ROUTE)          # the platform's marker: no session needed

and the gateway's session dependency (the one that loads the caller's session: the cookie
reader on the web, the bearer reader on mobile) checks it with :func:`authorize` right after
loading, before a screen opens and before any core call. The check is a few comparisons on the
record in hand: no store round trip, no dependency or guard of its own.

**Deny by default.** A route without a declared policy is refused (``PolicyRefused``) by
:func:`route_policy`, and a test walks every route of both apps and fails on one without a
declaration; public routes say so explicitly.

    Policy(roles=…, scopes=…, max_auth_age_s=…)
     ├── roles            every one of them among the session's roles
     ├── scopes           every one of them among the scopes the IdP granted
     └── max_auth_age_s   the user proved who they are at most this many seconds ago;
                          older (or unknown) is ``StepUpRequired``: log in again with
                          ``prompt=login`` and ``max_age``

Roles and scopes are checked first: a user who lacks a role gets a 403, not a new login that
would not help.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.identity.errors import PolicyRefused, StepUpRequired
from shared.identity.records import SessionAccess, SessionRecord
from shared.platform.route_policy import POLICY_OPT, PUBLIC_MARKER


@dataclass(frozen=True, slots=True)
class Policy:
    """Who may call a route. ``public`` routes need no session at all."""

    public: bool = False
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    max_auth_age_s: int | None = None

    def check(self, access: SessionAccess, now: float) -> None:
        """``PolicyRefused`` or ``StepUpRequired`` unless ``access`` meets this policy."""
        if not (self.roles <= access.roles and self.scopes <= access.scopes):
            raise PolicyRefused()
        if self.max_auth_age_s is not None:
            at = access.authenticated_at
            if at is None or now - at > self.max_auth_age_s:
                raise StepUpRequired(self.max_auth_age_s)


PUBLIC = Policy(public=True)
AUTHENTICATED = Policy()


def requires(
    *,
    roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    max_auth_age_s: int | None = None,
) -> Policy:
    """A policy for a signed-in caller with these roles, scopes and login age."""
    return Policy(roles=frozenset(roles), scopes=frozenset(scopes), max_auth_age_s=max_auth_age_s)


def declare(policy: Policy) -> dict[str, Any]:
    """The ``opt`` of a route handler that declares ``policy``."""
    return {POLICY_OPT: PUBLIC_MARKER if policy.public else policy}


def route_policy(opt: Mapping[str, Any]) -> Policy:
    """The policy a route declared; ``PolicyRefused`` when it declared none (deny by default)."""
    declared = opt.get(POLICY_OPT)
    if isinstance(declared, Policy):
        return declared
    if declared == PUBLIC_MARKER:
        return PUBLIC
    raise PolicyRefused()


def authorize(record: SessionRecord, opt: Mapping[str, Any], now: float) -> SessionRecord:
    """The session, if the route's policy lets it in; raises otherwise."""
    route_policy(opt).check(record.access, now)
    return record
