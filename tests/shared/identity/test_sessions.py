"""The session manager: what endpoints ask of sessions, on both store backends."""

from __future__ import annotations

from typing import cast

import pytest

from shared.identity.errors import NotSignedIn
from shared.identity.oidc import OidcRelyingParty
from shared.identity.sessions import CookieSessionReader, SessionManager, device_of
from shared.identity.stores import IdentityStores
from shared.platform.keys import KeyedHasher
from shared.platform.settings import load_settings
from tests.fixtures.clock import FakeClock
from tests.shared.identity.support import NEW_KEY, OLD_KEY, stores, token_set

pytestmark = pytest.mark.anyio

__all__ = ["stores"]  # a fixture, used by name

IDLE_S = 600


def manager(stores: IdentityStores, keys: KeyedHasher | None = None) -> SessionManager:
    settings = load_settings("web", {"BFF_SESSION_IDLE_TIMEOUT": str(IDLE_S)})
    # Opening and listing never reach the IdP; ending does, and is tested over HTTP.
    oidc = cast(OidcRelyingParty, None)
    clock = stores.sessions.clock
    return SessionManager(stores.sessions, oidc, settings, keys or KeyedHasher(OLD_KEY), clock)


async def open_one(sessions: SessionManager, user_agent: str | None = "pytest") -> str:
    record = await sessions.open(
        kind="web",
        sub="alice",
        tokens=token_set(),
        claims={"sub": "alice"},
        idp_sid=None,
        user_agent=user_agent,
    )
    return record.id


async def test_a_session_is_loaded_slid_and_required(stores: IdentityStores) -> None:
    sessions = manager(stores)
    clock = sessions.clock
    assert isinstance(clock, FakeClock)
    session_id = await open_one(sessions)
    clock.advance(IDLE_S - 1)
    record = await sessions.load(session_id)  # slides the idle timeout
    assert record is not None
    assert sessions.expires_in(record) == IDLE_S
    clock.advance(IDLE_S - 1)
    assert (await sessions.require(session_id, slide=False)).id == session_id
    clock.advance(IDLE_S)
    with pytest.raises(NotSignedIn) as ended:
        await sessions.require(session_id)
    assert ended.value.credentials_sent is True
    with pytest.raises(NotSignedIn) as none:
        await sessions.require(None)
    assert none.value.credentials_sent is False


async def test_absurd_session_ids_are_not_even_looked_up(stores: IdentityStores) -> None:
    sessions = manager(stores)
    assert await sessions.load("") is None
    assert await sessions.load("x" * 129) is None


async def test_public_ids_are_keyed_and_survive_a_key_rotation(stores: IdentityStores) -> None:
    sessions = manager(stores)
    session_id = await open_one(sessions)
    record = await sessions.load(session_id)
    assert record is not None
    public = sessions.public_id(record)
    assert session_id not in public
    assert sessions.has_public_id(record, public)
    other_last = "B" if public.endswith("A") else "A"  # one character off, never the same id
    assert not sessions.has_public_id(record, public[:-1] + other_last)
    rotated = manager(stores, KeyedHasher(NEW_KEY, OLD_KEY))
    assert rotated.public_id(record) != public
    assert rotated.has_public_id(record, public)


async def test_the_cookie_reader_reads_only_its_cookie(stores: IdentityStores) -> None:
    sessions = manager(stores)
    session_id = await open_one(sessions)
    reader = CookieSessionReader(sessions, "bff")
    assert (await reader.require({"bff": session_id})).id == session_id
    assert await reader.read({"other": session_id}) is None


def test_the_kept_user_agent_is_bounded() -> None:
    assert device_of("x" * 1000) == "x" * 256
    assert device_of("") is None
    assert device_of(None) is None
