"""The gateway's client-credentials tokens against the real dev IdP and Redis: fetched once for
many concurrent calls and across instances, kept sealed in Redis until shortly before expiry,
fetched again after, in memory without Redis, and an unreachable IdP is a 503-kind error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest

from shared.identity.oidc import OidcRelyingParty
from shared.platform.crypto import TokenCipher
from shared.platform.keys import KeyedHasher
from shared.platform.redis import RedisClient, create_redis_client
from shared.remote.client_tokens import KEY_PREFIX, ClientTokens
from shared.remote.errors import RemoteApiTokenUnavailable
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import TEST_SECRET_KEY
from tests.fixtures.idp import IDP_TOKEN_MAX_AGE_S, IdpServer
from tests.fixtures.servers import free_port

SCOPES = ("partner:read",)
MakeTokens = Callable[..., ClientTokens]

pytestmark = pytest.mark.anyio


def relying_party(issuer: str, clock: FakeClock) -> OidcRelyingParty:
    return OidcRelyingParty(
        clock=clock,
        issuer=issuer,
        client_id="bff-web",
        client_secret="dev-secret-bff-web",
        redirect_uri="http://127.0.0.1:8000/bff/callback",
        scopes=("openid",),
    )


@pytest.fixture
async def make_tokens(idp: IdpServer) -> AsyncIterator[MakeTokens]:
    """``make_tokens(redis=..., clock=..., issuer=...)``: a ``ClientTokens`` as a gateway
    builds it, each with its own OIDC client (as each instance has)."""
    async with AsyncExitStack() as stack:

        def make(
            redis: RedisClient | None = None, clock: FakeClock | None = None, issuer: str = ""
        ) -> ClientTokens:
            clock = clock or FakeClock()
            oidc = relying_party(issuer or idp.url, clock)
            stack.push_async_callback(oidc.aclose)
            return ClientTokens(
                oidc,
                redis,
                TokenCipher(TEST_SECRET_KEY),
                KeyedHasher(TEST_SECRET_KEY),
                clock,
                skew_s=60,
            )

        yield make


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
    client = create_redis_client(redis_url)
    yield client
    await client.aclose()


async def test_many_concurrent_calls_over_two_instances_cause_one_token_request(
    make_tokens: MakeTokens, idp: IdpServer, redis: RedisClient
) -> None:
    instances = [make_tokens(redis), make_tokens(redis)]
    tokens = await asyncio.gather(
        *(instances[n % 2].access_token("partner", SCOPES) for n in range(20))
    )
    assert len(set(tokens)) == 1
    assert idp.stats()["token_requests"]["client_credentials"] == 1


async def test_the_token_is_kept_sealed_in_redis_and_expires_with_it(
    make_tokens: MakeTokens, redis: RedisClient
) -> None:
    token = await make_tokens(redis).access_token("partner", SCOPES)
    (key,) = [key async for key in redis.scan_iter(match=f"{KEY_PREFIX}*")]
    stored = await redis.get(key)
    assert token.encode() not in stored
    # Kept until the skew before expiry: min(60 s, half the lifetime).
    lifetime_ms = IDP_TOKEN_MAX_AGE_S * 1000
    assert 0 < await redis.pttl(key) <= lifetime_ms - min(60_000, lifetime_ms // 2)


async def test_a_token_due_for_renewal_is_fetched_again(
    make_tokens: MakeTokens, idp: IdpServer
) -> None:
    clock = FakeClock()
    tokens = make_tokens(None, clock)
    first = await tokens.access_token("partner", SCOPES)
    assert await tokens.access_token("partner", SCOPES) == first
    clock.advance(IDP_TOKEN_MAX_AGE_S / 2 + 1)  # inside the renewal window
    second = await tokens.access_token("partner", SCOPES)
    assert second != first
    assert idp.stats()["token_requests"]["client_credentials"] == 2


async def test_each_scope_set_has_its_own_token(make_tokens: MakeTokens, idp: IdpServer) -> None:
    tokens = make_tokens()
    assert await tokens.access_token("a", ("a:read",)) != await tokens.access_token(
        "b", ("b:read",)
    )
    assert await tokens.access_token("c", ("a:read",)) == await tokens.access_token(
        "a", ("a:read",)
    )
    assert idp.stats()["token_requests"]["client_credentials"] == 2


async def test_an_unreachable_idp_is_token_unavailable(make_tokens: MakeTokens) -> None:
    tokens = make_tokens(issuer=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RemoteApiTokenUnavailable) as caught:
        await tokens.access_token("partner", SCOPES)
    assert caught.value.api == "partner"
    assert "127.0.0.1" not in caught.value.detail
