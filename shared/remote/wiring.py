"""The lifespan resource that opens each declared remote API's HTTP client.

One ``httpx.AsyncClient`` per API (its own pool, closed when the gateway stops), each with its
own breaker (reported as ``bff.core.service="remote:<name>"`` in the breaker metrics) and retry
budget; one ``ClientTokens`` for the gateway's client-credentials tokens. ``https://``
upstreams are verified as the core services are (``BFF_CORE_CA_FILE`` or the system store, and
``BFF_CORE_CLIENT_CERT_FILE`` shown when configured): remote APIs are the gateway's upstreams
too. The result fills the ``REMOTE`` state slot; needs the ``IDENTITY`` slot filled first.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from litestar import Litestar

from core_clients.policy import ServicePolicy
from core_clients.transport import cookie_jar_keeping_nothing
from shared.identity.wiring import IDENTITY
from shared.platform.metrics import record_breaker_state, record_breaker_transition
from shared.platform.plugin import CLOCK, KEYS, SETTINGS, redis_client
from shared.platform.state import StateSlot
from shared.remote.client_tokens import ClientTokens
from shared.remote.forwarding import RemoteApi, policy_for


@dataclass(frozen=True)
class RemoteApis:
    apis: Mapping[str, RemoteApi]
    """By declared name."""
    client_tokens: ClientTokens


REMOTE = StateSlot("remote", RemoteApis)


def remote_http_client(
    gateway: str,
    policy: ServicePolicy,
    tls: ssl.SSLContext,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The one long-lived client of a remote API, shared by every user's calls: no proxy from
    the environment, no redirects followed, no cookie kept (``cookie_jar_keeping_nothing``).
    ``transport`` is for tests."""
    if transport is None:
        transport = httpx.AsyncHTTPTransport(
            verify=tls,
            limits=httpx.Limits(
                max_connections=policy.max_connections,
                max_keepalive_connections=policy.max_connections,
            ),
            trust_env=False,
        )
    return httpx.AsyncClient(
        transport=transport,
        headers={"user-agent": f"bff-{gateway}"},
        follow_redirects=False,
        trust_env=False,
        cookies=cookie_jar_keeping_nothing(),
    )


@asynccontextmanager
async def remote_apis_resource(app: Litestar) -> AsyncIterator[None]:
    settings, clock = SETTINGS.get(app.state), CLOCK.get(app.state)
    identity = IDENTITY.get(app.state)
    tls = settings.core_tls.client_context() or ssl.create_default_context()
    async with AsyncExitStack() as stack:
        apis: dict[str, RemoteApi] = {}
        for declared in settings.remote_apis:
            policy = policy_for(declared)
            http = remote_http_client(settings.gateway, policy, tls)
            stack.push_async_callback(http.aclose)
            api = RemoteApi(
                declared, http, clock=clock, on_breaker_transition=record_breaker_transition
            )
            record_breaker_state(api.breaker.service, api.breaker.state.value)
            apis[declared.name] = api
        client_tokens = ClientTokens(
            identity.oidc,
            redis_client(app.state),
            identity.cipher,
            KEYS.get(app.state),
            clock,
            skew_s=settings.token_refresh_skew_s,
        )
        REMOTE.fill(app.state, RemoteApis(apis, client_tokens))
        yield
