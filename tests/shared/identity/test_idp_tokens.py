"""The IdP token manager's wait counts against the request's deadline, and a refresh it stops
waiting for still finishes, so a rotated refresh token is never lost half-way.

The IdP here is a stand-in for one slow refresh call (the real provider is exercised in
``tests/bff_web/test_token_refresh.py``): the test is about time, not the protocol."""

from __future__ import annotations

import asyncio
import time
from typing import cast

import pytest

from shared.identity.errors import IdpUnavailable
from shared.identity.idp_tokens import IdpTokenManager
from shared.identity.oidc import OidcRelyingParty, TokenResponse
from shared.identity.records import SessionRecord, TokenSet
from shared.identity.stores import IdentityStores
from shared.platform.deadline import Deadline, deadline_scope
from tests.fixtures.clock import FakeClock
from tests.shared.identity.support import KEYS, new_record, stores

pytestmark = pytest.mark.anyio

__all__ = ["stores"]  # a fixture, used by name

SKEW_S = 60
SLACK_S = 2.0  # generous: what is under test is "not 30 s", not speed


class SlowIdp:
    """Answers a refresh only once released."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.released = asyncio.Event()
        self.calls = 0

    async def refresh(self, refresh_token: str, *, dpop_key: object = None) -> TokenResponse:
        self.calls += 1
        async with asyncio.timeout(30):
            await self.released.wait()
        return TokenResponse(
            access_token="renewed", expires_at=self.clock.time() + 300, refresh_token="r-2"
        )


async def session_expiring_in(stores: IdentityStores, seconds: float) -> SessionRecord:
    record = new_record(stores.sessions)
    clock = stores.sessions.clock
    tokens = TokenSet(
        access_token="current",
        refresh_token="r-1",
        access_token_expires_at=clock.time() + seconds,
        access_token_issued_at=clock.time() - 300,
    )
    await stores.sessions.create(record)
    assert await stores.sessions.update_tokens(record.id, tokens)
    loaded = await stores.sessions.get(record.id)
    assert loaded is not None
    return loaded


def manager(stores: IdentityStores, idp: SlowIdp) -> IdpTokenManager:
    clock = stores.sessions.clock
    oidc = cast(OidcRelyingParty, idp)
    return IdpTokenManager(stores.sessions, oidc, None, KEYS, clock, skew_s=SKEW_S)


async def test_a_slow_refresh_of_a_still_valid_token_gives_the_current_token_in_time(
    stores: IdentityStores,
) -> None:
    clock = stores.sessions.clock
    assert isinstance(clock, FakeClock)
    idp = SlowIdp(clock)
    tokens = manager(stores, idp)
    record = await session_expiring_in(stores, 30)  # inside the skew, still valid

    started = time.monotonic()
    with deadline_scope(Deadline.after(0.2)):
        got = await tokens.fresh_tokens(record)
    assert got.access_token == "current"
    assert time.monotonic() - started < SLACK_S

    (still_running,) = tokens._in_flight.values()
    idp.released.set()  # the refresh the request stopped waiting for runs to its end
    await asyncio.wait_for(still_running, SLACK_S)
    stored = await stores.sessions.get(record.id)
    assert stored is not None
    assert stores.sessions.codec.open_tokens(stored).refresh_token == "r-2"
    assert idp.calls == 1


async def test_a_slow_refresh_of_an_expired_token_is_unavailable_in_time(
    stores: IdentityStores,
) -> None:
    clock = stores.sessions.clock
    assert isinstance(clock, FakeClock)
    idp = SlowIdp(clock)
    tokens = manager(stores, idp)
    record = await session_expiring_in(stores, -1)

    started = time.monotonic()
    with deadline_scope(Deadline.after(0.2)), pytest.raises(IdpUnavailable):
        await tokens.fresh_tokens(record)
    assert time.monotonic() - started < SLACK_S
    idp.released.set()


async def test_parallel_requests_share_one_refresh(stores: IdentityStores) -> None:
    clock = stores.sessions.clock
    assert isinstance(clock, FakeClock)
    idp = SlowIdp(clock)
    tokens = manager(stores, idp)
    record = await session_expiring_in(stores, 10)
    idp.released.set()
    results = await asyncio.gather(*(tokens.fresh_tokens(record) for _ in range(10)))
    assert {t.access_token for t in results} == {"renewed"}
    assert idp.calls == 1
