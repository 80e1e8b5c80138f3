"""Which ``Authorization`` header a remote API's upstream gets: the one place that decides.

The answer is a ``RequestAuthorization`` (as for core calls), not a header value: a user token
the IdP bound to the session's DPoP key (``BFF_OIDC_DPOP``) goes as ``DPoP <token>`` with a
fresh proof for each attempt's method and URL, any other as ``Bearer``.
"""

from __future__ import annotations

from core_clients.wire import RequestAuthorization
from shared.identity.dpop import BoundToken, presented_key
from shared.identity.idp_tokens import IdpTokenManager
from shared.identity.records import SessionRecord
from shared.platform.remote_api_settings import RemoteApiSettings
from shared.remote.client_tokens import ClientTokens


async def upstream_authorization(
    api: RemoteApiSettings,
    session: SessionRecord,
    user_tokens: IdpTokenManager,
    client_tokens: ClientTokens,
) -> RequestAuthorization | None:
    """``user``: the session's IdP access token, refreshed first when due (exactly once across
    requests and instances, within the current deadline), with its key when it is bound.
    ``client``: the gateway's own client-credentials token for the API's scopes, a bearer
    token. ``none``: no header at all."""
    if api.token == "none":  # noqa: S105 (a kind of token, not a secret)
        return None
    clock = user_tokens.clock
    if api.token == "user":  # noqa: S105 (a kind of token, not a secret)
        fresh = await user_tokens.fresh_tokens(session)
        return BoundToken(fresh.access_token, presented_key(fresh), clock)
    token = await client_tokens.access_token(api.name, api.client_scopes)
    return BoundToken(token, None, clock)
