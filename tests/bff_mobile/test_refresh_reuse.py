"""The refresh reuse window over real HTTP: a retried or parallel refresh gets the same successor
pair, exactly once minted across instances on one Redis; after the window (moved by the clock),
or once the successor was used, a replay ends the session as strict rotation does."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from shared.identity.mobile_tokens import DEFAULT_REFRESH_REUSE_S
from tests.bff_mobile.test_auth_flow import get_me, log_in_app, refresh
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IdpServer


def _pair(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body["access_token"], body["refresh_token"]


def _refused(response: httpx.Response) -> bool:
    return response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.fixture
def instances(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str, clock: FakeClock
) -> tuple[RunningGateway, RunningGateway]:
    """Two mobile instances on one Redis, reading one clock."""
    first = start_gateway("mobile", idp_url=idp.url, redis_url=redis_url, clock=clock)
    second = start_gateway("mobile", idp_url=idp.url, redis_url=redis_url, clock=clock)
    return first, second


def test_two_parallel_refreshes_on_two_instances_get_the_same_working_pair(
    instances: tuple[RunningGateway, RunningGateway],
) -> None:
    first, second = instances
    tokens = log_in_app(first.url)
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(
            pool.map(lambda url: refresh(url, tokens["refresh_token"]), (first.url, second.url))
        )
    pairs = {_pair(response) for response in responses}
    assert len(pairs) == 1, "one successor pair, minted once across both instances"
    ((access_token, refresh_token),) = pairs
    assert get_me(first.url, access_token).status_code == 200
    assert get_me(second.url, access_token).status_code == 200
    next_access, _ = _pair(refresh(second.url, refresh_token))
    assert get_me(first.url, next_access).status_code == 200


def test_a_retry_within_the_window_gets_the_same_pair_never_a_third(
    instances: tuple[RunningGateway, RunningGateway], clock: FakeClock
) -> None:
    first, second = instances
    tokens = log_in_app(first.url)
    successor = _pair(refresh(first.url, tokens["refresh_token"]))
    clock.advance(DEFAULT_REFRESH_REUSE_S - 1)
    assert _pair(refresh(second.url, tokens["refresh_token"])) == successor
    assert _pair(refresh(first.url, tokens["refresh_token"])) == successor
    assert get_me(second.url, successor[0]).status_code == 200


@pytest.mark.parametrize("closed_by", ["the-clock", "the-successors-use"])
def test_a_replay_once_the_window_closed_ends_the_session(
    instances: tuple[RunningGateway, RunningGateway], clock: FakeClock, closed_by: str
) -> None:
    """The window closes when the clock passes it, or earlier once the successor was used
    (then the app already has the pair, so the replay is someone else)."""
    first, second = instances
    tokens = log_in_app(first.url)
    access_token, refresh_token = _pair(refresh(first.url, tokens["refresh_token"]))
    if closed_by == "the-clock":
        clock.advance(DEFAULT_REFRESH_REUSE_S + 1)
    else:
        assert get_me(second.url, access_token).status_code == 200
    assert _refused(refresh(second.url, tokens["refresh_token"]))
    assert get_me(first.url, access_token).status_code == 401
    assert _refused(refresh(first.url, refresh_token))


def test_a_replay_of_a_token_rotated_twice_ago_ends_the_session(
    instances: tuple[RunningGateway, RunningGateway],
) -> None:
    first, _ = instances
    tokens = log_in_app(first.url)
    _, second_refresh = _pair(refresh(first.url, tokens["refresh_token"]))
    access_token, _ = _pair(refresh(first.url, second_refresh))
    assert _refused(refresh(first.url, tokens["refresh_token"]))
    assert get_me(first.url, access_token).status_code == 401


def test_without_a_window_rotation_is_strict(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str
) -> None:
    """``BFF_MOBILE_REFRESH_REUSE_SECONDS=0``: the second presentation is reuse at once."""
    mobile = start_gateway(
        "mobile", idp_url=idp.url, redis_url=redis_url, BFF_MOBILE_REFRESH_REUSE_SECONDS="0"
    )
    tokens = log_in_app(mobile.url)
    access_token, _ = _pair(refresh(mobile.url, tokens["refresh_token"]))
    assert _refused(refresh(mobile.url, tokens["refresh_token"]))
    assert get_me(mobile.url, access_token).status_code == 401


def test_a_token_one_instance_has_seen_is_refused_there_once_rotated_or_logged_out(
    instances: tuple[RunningGateway, RunningGateway],
) -> None:
    """Each instance remembers the index entries of the access tokens it has seen; the token is
    still checked against the session as Redis has it on every request, so the pair rotating or
    the session ending on the other instance is refused at once on this one too."""
    first, second = instances
    tokens = log_in_app(first.url)
    assert get_me(second.url, tokens["access_token"]).status_code == 200  # now remembered
    access_token, _ = _pair(refresh(first.url, tokens["refresh_token"]))
    assert get_me(second.url, tokens["access_token"]).status_code == 401
    assert get_me(second.url, access_token).status_code == 200  # remembered too
    logout = httpx.post(
        f"{first.url}/auth/logout", headers={"Authorization": f"Bearer {access_token}"}
    )
    assert logout.status_code == 204
    assert get_me(second.url, access_token).status_code == 401
