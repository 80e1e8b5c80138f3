"""What can go wrong with who the user is, in the identity layer's own words.

The identity layer never speaks HTTP: it raises these, and each gateway translates them in one
place (``bff_web.errors``, ``bff_mobile.errors``; one map per boundary, tested to be complete).
``detail`` is our own fixed text, safe to show a client: never a token, an IdP body or a host.

    IdentityError
     ├── NotSignedIn            no live session behind the cookie or bearer token presented
     │    └── DpopTokenRefused  a token the DPoP scheme refuses (a bound one sent as Bearer, ...)
     ├── DpopProofRefused       an app's DPoP proof is missing, invalid or replayed
     ├── SessionEnded           the session ended while this request was served
     ├── IdpUnavailable         the IdP could not be reached, failed, or ran out of time
     ├── RefreshInProgress      another instance is refreshing this session's tokens
     ├── LoginRejected          the IdP's answer to a login cannot be accepted
     ├── LogoutTokenRejected    a back-channel logout token is missing, invalid or replayed
     ├── GrantRefused           an app's code or refresh token leads to no session
     ├── PolicyRefused          a live session the route's policy does not let in
     ├── StepUpRequired         the route needs a more recent login than the session's
     └── OidcError              a protocol step failed (raised inside the relying party)
          └── InvalidGrant      the IdP refused a code or refresh token
"""

from __future__ import annotations


class IdentityError(Exception):
    """Base of the identity layer's errors; ``detail`` is safe to show."""

    default_detail = "The identity check failed"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class NotSignedIn(IdentityError):
    """No live session: nothing presented, or it is unknown, expired or ended.

    ``credentials_sent`` tells a bearer challenge with ``error="invalid_token"`` (a token was
    presented) from a bare one (none was, RFC 6750 3.1)."""

    default_detail = "Not logged in"

    def __init__(self, detail: str | None = None, *, credentials_sent: bool = True) -> None:
        super().__init__(detail)
        self.credentials_sent = credentials_sent


class DpopTokenRefused(NotSignedIn):
    """No live session for what was presented, answered with a DPoP challenge (RFC 9449 7.1):
    a DPoP-bound token sent as ``Bearer``, an unbound one sent as ``DPoP``, an unknown token
    under the DPoP scheme, or any bearer token where only DPoP is accepted."""

    default_detail = "The access token is not valid for the DPoP scheme"


class DpopProofRefused(IdentityError):
    """The request's DPoP proof is missing, fails a check of RFC 9449 4.3, or was used before;
    ``detail`` names the check (never the proof). The answer is ``invalid_dpop_proof``."""

    default_detail = "A valid DPoP proof is required"


class SessionEnded(IdentityError):
    default_detail = "The session has ended; please log in again"


class IdpUnavailable(IdentityError):
    default_detail = "The identity provider is unavailable"


class RefreshInProgress(IdentityError):
    default_detail = "The session's tokens are being refreshed; try again"


class LoginRejected(IdentityError):
    default_detail = "The login response was rejected"


class LogoutTokenRejected(IdentityError):
    default_detail = "The logout token was rejected"


class GrantRefused(IdentityError):
    default_detail = "The grant is not valid"


class OidcError(IdentityError):
    """A protocol step failed; ``reason`` says which check, in our words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidGrant(OidcError):
    """The provider refused a code or refresh token: the session cannot continue."""


class PolicyRefused(IdentityError):
    """The session is live but the route's policy does not let it in (roles, scopes)."""

    default_detail = "You are not allowed to do this"


class StepUpRequired(IdentityError):
    """The route needs a login more recent than this session's: log in again.

    ``max_age_s`` is the limit the new login must meet (the ``max_age`` to send the IdP)."""

    default_detail = "This needs a recent login; please log in again"

    def __init__(self, max_age_s: int) -> None:
        super().__init__()
        self.max_age_s = max_age_s
