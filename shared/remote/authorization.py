"""Which ``Authorization`` header a remote API's upstream gets: the one place that decides.

Kept apart from the call path so that a sender-constrained token (DPoP) can change how the
header is made, for remote APIs as for core calls, in one function.
"""

from __future__ import annotations

from shared.identity.idp_tokens import IdpTokenManager
from shared.identity.records import SessionRecord
from shared.platform.remote_api_settings import RemoteApiSettings
from shared.remote.client_tokens import ClientTokens


async def upstream_authorization(
    api: RemoteApiSettings,
    session: SessionRecord,
    user_tokens: IdpTokenManager,
    client_tokens: ClientTokens,
) -> str | None:
    """``user``: the session's IdP access token, refreshed first when due (exactly once across
    requests and instances, within the current deadline). ``client``: the gateway's own
    client-credentials token for the API's scopes. ``none``: no header at all."""
    if api.token == "none":  # noqa: S105 (a kind of token, not a secret)
        return None
    if api.token == "user":  # noqa: S105 (a kind of token, not a secret)
        fresh = await user_tokens.fresh_tokens(session)
        return f"Bearer {fresh.access_token}"
    return f"Bearer {await client_tokens.access_token(api.name, api.client_scopes)}"
