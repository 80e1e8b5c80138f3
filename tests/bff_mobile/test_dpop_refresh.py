"""Refreshing a sender-constrained app session (``BFF_MOBILE_DPOP``) over real HTTP, on a gateway
reading a clock the test moves: a refresh token presented twice within the reuse window, each
time with a good proof, gets the same successor, still ``DPoP`` and still bound to the key; a
refresh refused for its proof leaves the session's idle expiry where it was."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.identity.dpop import DpopKey
from tests.bff_mobile.test_dpop_tokens import (
    BAD_PROOF,
    BAD_TOKEN,
    assert_challenge,
    assert_token_error,
    bound_login,
    call,
    refresh,
)
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import RunningGateway, StartGateway, stored_session
from tests.fixtures.idp import IdpServer


@pytest.fixture
def mobile(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str, clock: FakeClock
) -> RunningGateway:
    return start_gateway("mobile", idp_url=idp.url, redis_url=redis_url, clock=clock)


@pytest.fixture
def key() -> DpopKey:
    return DpopKey.generate()


def proof_at(
    clock: FakeClock, key: DpopKey, method: str, url: str, token: str | None = None
) -> str:
    """A proof made at the gateway's time, as an app whose clock agrees with it would."""
    return key.proof(method, url, now=clock.time(), access_token=token)


def pair_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_refresh_retried_within_the_window_gets_the_same_bound_successor(
    mobile: RunningGateway, clock: FakeClock, key: DpopKey
) -> None:
    token_url, me_url = f"{mobile.url}/auth/token", f"{mobile.url}/m/v1/me"
    tokens = bound_login(mobile.url, key)
    first = pair_of(
        refresh(mobile.url, tokens["refresh_token"], proof_at(clock, key, "POST", token_url))
    )
    clock.advance(1)
    # Without the key, the retry is not even a presentation: no successor, no reuse.
    thief = proof_at(clock, DpopKey.generate(), "POST", token_url)
    assert_token_error(refresh(mobile.url, tokens["refresh_token"], thief), "invalid_dpop_proof")
    retried = pair_of(
        refresh(mobile.url, tokens["refresh_token"], proof_at(clock, key, "POST", token_url))
    )

    assert (retried["access_token"], retried["refresh_token"]) == (
        first["access_token"],
        first["refresh_token"],
    )
    assert first["token_type"] == retried["token_type"] == "DPoP"
    access = retried["access_token"]
    other_key = proof_at(clock, DpopKey.generate(), "GET", me_url, access)
    assert_challenge(call(mobile.url, access, other_key, path="/m/v1/me"), BAD_PROOF)
    assert_challenge(call(mobile.url, access, None, path="/m/v1/me", scheme="Bearer"), BAD_TOKEN)
    same_key = proof_at(clock, key, "GET", me_url, access)
    assert call(mobile.url, access, same_key, path="/m/v1/me").status_code == 200
    unbound = refresh(mobile.url, retried["refresh_token"])
    assert_token_error(unbound, "invalid_dpop_proof")
    onwards = refresh(mobile.url, retried["refresh_token"], proof_at(clock, key, "POST", token_url))
    assert pair_of(onwards)["token_type"] == "DPoP"


def test_a_refresh_refused_for_its_proof_does_not_slide_the_session(
    mobile: RunningGateway, clock: FakeClock, key: DpopKey, redis_url: str
) -> None:
    token_url = f"{mobile.url}/auth/token"
    tokens = bound_login(mobile.url, key)
    opened = stored_session(redis_url, "alice")
    clock.advance(mobile.identity.sessions.slide_interval_s + 1)  # a good refresh would slide

    assert_token_error(refresh(mobile.url, tokens["refresh_token"]), "invalid_dpop_proof")
    thief = proof_at(clock, DpopKey.generate(), "POST", token_url)
    assert_token_error(refresh(mobile.url, tokens["refresh_token"], thief), "invalid_dpop_proof")
    refused = stored_session(redis_url, "alice")
    assert (refused.last_seen_at, refused.idle_expires_at) == (
        opened.last_seen_at,
        opened.idle_expires_at,
    )

    pair_of(refresh(mobile.url, tokens["refresh_token"], proof_at(clock, key, "POST", token_url)))
    renewed = stored_session(redis_url, "alice")
    assert renewed.last_seen_at == clock.time()
    assert renewed.idle_expires_at > opened.idle_expires_at
