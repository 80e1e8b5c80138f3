"""One source for who a development user is: the dev IdP's ID token and the accounts stub's
profile name the same person, for the seeded user and for any other subject."""

from __future__ import annotations

import uuid

import httpx

from devstack.dev_users import ALICE, dev_user
from devstack.idp import TEST_USER
from tests.devstack.core_stubs_support import client
from tests.devstack.idp_support import RelyingParty, browser, rp

__all__ = ["browser", "client", "rp"]  # fixtures, used by name


def test_the_idp_and_the_accounts_stub_agree_on_the_seeded_user(
    rp: RelyingParty, client: httpx.Client
) -> None:
    login = rp.authorize(sub="alice")
    claims = rp.verify_id_token(rp.exchange(login)["id_token"], login).claims
    profile = client.get("/accounts/v1/accounts/alice").json()

    assert claims["name"] == profile["displayName"] == ALICE.name == TEST_USER["name"]
    assert claims["email"] == profile["email"] == "alice@example.com"


def test_any_other_subject_gets_the_same_derived_name_from_both(
    rp: RelyingParty, client: httpx.Client
) -> None:
    """The IdP's form accepts any subject; its ID token carries the name the accounts stub
    shows for it (the mock alone would give an email claim only)."""
    sub = f"user-{uuid.uuid4().hex[:8]}"
    login = rp.authorize(sub=sub)
    claims = rp.verify_id_token(rp.exchange(login)["id_token"], login).claims
    profile = client.get(f"/accounts/v1/accounts/{sub}").json()

    assert claims["name"] == profile["displayName"] == dev_user(sub).name
    assert claims["email"] == profile["email"]
    assert profile["email"].isascii()


def test_a_derived_name_depends_on_the_subject_alone() -> None:
    assert dev_user("bob") == dev_user("bob")
    assert len({dev_user(f"u{n}").name for n in range(40)}) > 10
