"""What a session is: the record kept on the server and the IdP tokens sealed inside it.

Only plain data lives here, so every part of the identity layer (stores, token manager, login)
and the screens can name these types without depending on how they are stored.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

SessionKind = Literal["web", "mobile"]

MIN_SESSION_ID_LENGTH = 43  # secrets.token_urlsafe(32): 256 random bits


class TokenSet(msgspec.Struct, frozen=True, kw_only=True):
    """The IdP tokens of one session, in clear: only ever in memory, never logged."""

    access_token: str
    refresh_token: str | None = None
    id_token: str | None = None
    access_token_expires_at: float | None = None
    # Lets the token service keep its refresh skew under half the token's lifetime.
    access_token_issued_at: float | None = None
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a secret
    """As the IdP said: ``DPoP`` when the access token is bound to ``dpop_key``."""
    dpop_key: bytes | None = None
    """The session's DPoP private key (PEM), made at login with ``BFF_OIDC_DPOP``: sealed with
    the tokens, since it is worth as much as they are. Token sets stored before DPoP have none."""

    def __repr__(self) -> str:
        return "TokenSet(<redacted>)"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return [("tokens", "<redacted>")]


class EncryptedTokens(msgspec.Struct, frozen=True):
    """A :class:`TokenSet` sealed with the session id as associated data."""

    ciphertext: str


class SessionAccess(msgspec.Struct, frozen=True, kw_only=True):
    """What a session may do, as the IdP said at login and at each refresh since.

    ``authenticated_at`` is when the user last proved who they are (the ID token's
    ``auth_time``), moved onto the gateway's clock at login (see ``shared.identity.access``);
    None when the IdP did not say, which no recent-login policy accepts. Records stored before
    this field existed read as the default: no roles, no scopes, no known login time.
    """

    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    authenticated_at: float | None = None


class SessionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One login, on the server. Times are epoch seconds.

    ``claims`` keeps only what ``/bff/user`` shows; ``extra`` is free for the gateway (the
    mobile one keeps hashed refresh-token family data there). Both must be JSON values.
    """

    id: str
    kind: SessionKind
    sub: str
    idp_sid: str | None
    claims: dict[str, Any]
    created_at: float
    last_seen_at: float
    idle_expires_at: float
    absolute_expires_at: float
    user_agent: str | None
    tokens: EncryptedTokens
    extra: dict[str, Any] = {}
    access: SessionAccess = SessionAccess()

    @property
    def expires_at(self) -> float:
        """When the session ends if nothing happens: the sooner of idle and absolute expiry."""
        return min(self.idle_expires_at, self.absolute_expires_at)

    def is_expired(self, now: float) -> bool:
        return now >= self.expires_at
