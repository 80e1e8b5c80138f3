"""RFC 7009 token revocation over the mock's storage (authlib's ``RevocationEndpoint``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from authlib.oauth2.rfc7009 import RevocationEndpoint

from devstack.idp.state import CLIENT_AUTH_METHODS, current_idp


@dataclass(frozen=True)
class RevocableToken:
    """A token found for revocation. The mock's access tokens do not know their client, so the
    client is taken from the refresh token issued with them."""

    value: str
    kind: Literal["access_token", "refresh_token"]
    client_id: str

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)


class TokenRevocationEndpoint(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009 over the mock's storage; revoking a refresh token also drops its access token."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> RevocableToken | None:
        # The hint only speeds up a search (RFC 7009 section 2.1); token strings are unique.
        storage = current_idp().storage
        refresh_token = storage.get_refresh_token(token_string)
        if refresh_token is not None:
            return RevocableToken(token_string, "refresh_token", refresh_token.client_id)
        for refresh_token in storage.refresh_tokens():
            if refresh_token.access_token == token_string:
                return RevocableToken(token_string, "access_token", refresh_token.client_id)
        return None

    def revoke_token(self, token: RevocableToken, request: Any) -> None:
        storage = current_idp().storage
        if token.kind == "refresh_token":
            removed = storage.remove_refresh_token(token.value)
            if removed is not None:
                storage.remove_access_token(removed.access_token)
        else:
            storage.remove_access_token(token.value)
