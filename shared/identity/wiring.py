"""Who the user is, for both gateways, assembled once in the lifespan.

``Identity`` holds the identity layer's replaceable parts; each gateway is its own confidential
client at the IdP, with its own callback path. Handlers receive it as the ``identity``
dependency (the ``IDENTITY`` state slot), never from ``app.state``::

    Identity
     ├── sessions     SessionManager     load, slide, open, end, list (cookie / bearer readers)
     ├── tokens       IdpTokenManager    a fresh IdP access token, refreshed exactly once
     ├── login        LoginFlow          begin and complete a login, open the session
     ├── backchannel  BackchannelLogout  the IdP ends sessions
     ├── mobile       MobileTokenHandler the apps' one-time codes and opaque tokens
     └── stores       sessions, one-time values, token index (Redis or memory)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from litestar import Litestar

from shared.identity.access import RolesSource
from shared.identity.app_proofs import AppProofs
from shared.identity.backchannel import BackchannelLogout
from shared.identity.client_auth import ClientAuthentication
from shared.identity.idp_tokens import IdpTokenManager
from shared.identity.login import LoginFlow
from shared.identity.mobile_tokens import MobileTokenHandler
from shared.identity.oidc import OidcRelyingParty
from shared.identity.records import SessionRecord
from shared.identity.revocation_handoff import RevocationHandoff
from shared.identity.sessions import SessionManager
from shared.identity.stores import IdentityStores, build_stores
from shared.platform.crypto import TokenCipher
from shared.platform.metrics import ActiveSessions
from shared.platform.plugin import CLOCK, KEYS, READINESS, SETTINGS, redis_client
from shared.platform.settings import Settings
from shared.platform.state import StateSlot


@dataclass(frozen=True)
class Identity:
    settings: Settings
    cipher: TokenCipher
    """Seals what the gateway keeps in the browser (the login cookies)."""
    sessions: SessionManager
    tokens: IdpTokenManager
    login: LoginFlow
    backchannel: BackchannelLogout
    mobile: MobileTokenHandler
    stores: IdentityStores
    oidc: OidcRelyingParty

    async def end_session(self, record: SessionRecord) -> None:
        """End one session of either kind, here and on every instance (they share the store),
        and revoke its IdP refresh token; a mobile session's app tokens stop working too."""
        if record.kind == "mobile":
            await self.mobile.end(record)
        else:
            await self.sessions.end(record)

    async def end_every_session_of(self, sub: str) -> int:
        """End every web and mobile session of one user; returns how many there were."""
        records = await self.sessions.list_for_user(sub)
        for record in records:
            await self.end_session(record)
        return len(records)


IDENTITY = StateSlot("identity", Identity)


def identity_resource(
    callback_path: str,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A lifespan resource building the gateway's ``Identity`` with its callback URL."""

    @asynccontextmanager
    async def resource(app: Litestar) -> AsyncIterator[None]:
        settings, keys, clock = SETTINGS.get(app.state), KEYS.get(app.state), CLOCK.get(app.state)
        redis = redis_client(app.state)
        cipher = TokenCipher(settings.secret_key, settings.secret_key_previous)
        stores = build_stores(redis, cipher, keys, clock)
        oidc = OidcRelyingParty(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            redirect_uri=settings.public_url + callback_path,
            scopes=settings.oidc_scopes,
            tls=settings.oidc_tls.client_context(),
            clock=clock,
            client_auth=ClientAuthentication.from_settings(settings),
            par=settings.oidc_par,
            dpop=settings.oidc_dpop,
        )
        active = ActiveSessions(settings.gateway, redis)
        handoff = (
            None
            if redis is None
            else RevocationHandoff(redis, stores.sessions.codec, oidc, settings.gateway)
        )
        sessions = SessionManager(stores.sessions, oidc, settings, keys, clock, active, handoff)
        roles = RolesSource(
            settings.authz.roles_claim, userinfo=settings.authz.roles_source == "userinfo"
        )
        login = LoginFlow(oidc, sessions, clock, stores.one_time, roles=roles)
        identity = Identity(
            settings=settings,
            cipher=cipher,
            sessions=sessions,
            tokens=IdpTokenManager(
                stores.sessions,
                oidc,
                redis,
                keys,
                clock,
                skew_s=settings.token_refresh_skew_s,
                roles=roles,
            ),
            login=login,
            backchannel=BackchannelLogout(oidc, stores.sessions, stores.one_time),
            mobile=MobileTokenHandler(
                login,
                sessions,
                stores.one_time,
                stores.tokens,
                keys,
                AppProofs(settings.mobile_dpop, settings.public_url, stores.one_time, clock),
                refresh_reuse_s=settings.mobile_refresh_reuse_s,
            ),
            stores=stores,
            oidc=oidc,
        )
        IDENTITY.fill(app.state, identity)
        READINESS.get(app.state).add("oidc", oidc.is_reachable)
        background = [asyncio.create_task(active.run(), name="active-sessions")]
        if handoff is not None:
            background.append(asyncio.create_task(handoff.run(), name="revocation-handoff"))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await oidc.aclose()

    return resource
