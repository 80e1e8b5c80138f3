"""The dev IdP for authorization: the support user's roles, ``auth_time`` in every ID token, and
``prompt=login`` / ``max_age`` honoured as a new authentication."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from devstack.idp import create_idp_app
from tests.devstack.idp_support import RelyingParty, browser, rp
from tests.fixtures.clock import FakeClock
from tests.fixtures.idp import IdpServer

__all__ = ["browser", "rp"]  # fixtures, used by name


def test_the_support_user_has_the_support_role_in_the_id_token_and_userinfo(
    rp: RelyingParty,
) -> None:
    login, tokens = rp.log_in(sub="support")
    claims = rp.verify_id_token(tokens["id_token"], login).claims
    assert claims["roles"] == ["support"]
    assert isinstance(claims["auth_time"], int)
    userinfo = rp.http.get(
        rp.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert userinfo.json()["roles"] == ["support"]


def test_alice_has_no_roles(rp: RelyingParty) -> None:
    login, tokens = rp.log_in(sub="alice")
    assert "roles" not in rp.verify_id_token(tokens["id_token"], login).claims


@pytest.fixture
def in_process_rp(clock: FakeClock, tmp_path: Path) -> Iterator[RelyingParty]:
    """A relying party in front of an in-process IdP whose logins are stamped by ``clock``."""
    app = create_idp_app(now=clock.time)
    with httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://localhost"
    ) as browser:
        idp = IdpServer(url="http://localhost", process=cast(Any, None), log_path=tmp_path)
        yield RelyingParty(idp, browser)


def auth_time_of(rp: RelyingParty, **extra: str) -> int:
    login, tokens = rp.log_in(sub="alice", **extra)
    return int(rp.verify_id_token(tokens["id_token"], login).claims["auth_time"])


def test_a_second_login_joins_the_idp_session_and_keeps_its_auth_time(
    in_process_rp: RelyingParty, clock: FakeClock
) -> None:
    first = auth_time_of(in_process_rp)
    clock.advance(900)
    assert auth_time_of(in_process_rp) == first


def test_prompt_login_is_a_new_authentication(
    in_process_rp: RelyingParty, clock: FakeClock
) -> None:
    first = auth_time_of(in_process_rp)
    clock.advance(900)
    assert auth_time_of(in_process_rp, prompt="login") == first + 900


def test_max_age_renews_only_a_login_older_than_it(
    in_process_rp: RelyingParty, clock: FakeClock
) -> None:
    first = auth_time_of(in_process_rp)
    clock.advance(300)
    assert auth_time_of(in_process_rp, max_age="600") == first
    clock.advance(400)
    assert auth_time_of(in_process_rp, max_age="600") == first + 700
