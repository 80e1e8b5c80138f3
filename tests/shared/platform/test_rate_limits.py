"""Rate limits over real HTTP, on two gateway instances sharing the test session's Redis: a
limit is one count for the whole cluster, is answered with 429 and ``Retry-After``, and a
caller cannot step around it by saying it is someone else."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import redis

from tests.bff_mobile.test_auth_flow import APP_VERSION, log_in_app
from tests.fixtures.gateways import RunningGateway, StartGateway, log_in_browser
from tests.fixtures.idp import IdpServer


def assert_refused(response: httpx.Response) -> dict[str, Any]:
    """A 429 problem that says when to come back."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(response.headers["retry-after"]) <= 60
    body: dict[str, Any] = response.json()
    assert body["type"] == "/problems/too-many-requests"
    assert body["status"] == 429
    return body


def two_instances(
    start_gateway: StartGateway, gateway: str, idp: IdpServer, redis_url: str, **extra: str
) -> tuple[RunningGateway, RunningGateway]:
    first, second = (
        start_gateway(gateway, idp_url=idp.url, redis_url=redis_url, **extra) for _ in range(2)
    )
    return first, second


def test_the_31st_login_start_from_one_address_is_refused_by_either_instance(
    idp: IdpServer, redis_url: str, start_gateway: StartGateway
) -> None:
    """Logins alternate between two instances: 30 start, the 31st is refused wherever it goes,
    and so is every one after it, on both."""
    instances = two_instances(
        start_gateway, "web", idp, redis_url, BFF_RATE_LIMIT_LOGIN="30/minute"
    )
    urls = itertools.cycle(gateway.url for gateway in instances)
    for _ in range(30):
        assert httpx.get(f"{next(urls)}/bff/login").status_code == 302
    for gateway in instances:
        assert_refused(httpx.get(f"{gateway.url}/bff/login"))
        assert_refused(httpx.get(f"{gateway.url}/bff/callback", params={"state": "x"}))
    assert httpx.get(f"{instances[0].url}/health/live").status_code == 200  # not counted


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(
    idp: IdpServer, redis_url: str, start_gateway: StartGateway
) -> None:
    """Without trusted proxies, X-Forwarded-For and Forwarded are not read at all: a new
    address in each request is still the same caller."""
    web = start_gateway(
        "web", idp_url=idp.url, redis_url=redis_url, BFF_RATE_LIMIT_LOGIN="3/minute"
    )
    spoofed = [
        {"X-Forwarded-For": "203.0.113.1"},
        {"X-Forwarded-For": "198.51.100.2, 203.0.113.2"},
        {"Forwarded": "for=203.0.113.3"},
    ]
    for headers in spoofed:
        assert httpx.get(f"{web.url}/bff/login", headers=headers).status_code == 302
    assert_refused(httpx.get(f"{web.url}/bff/login", headers={"X-Forwarded-For": "192.0.2.99"}))


def test_behind_a_trusted_proxy_each_client_is_counted_by_its_own_address(
    idp: IdpServer, redis_url: str, start_gateway: StartGateway
) -> None:
    """The peer (127.0.0.1) is the trusted proxy: the right-most address it did not add is the
    client, and what the client wrote left of it does not count."""
    web = start_gateway(
        "web",
        idp_url=idp.url,
        redis_url=redis_url,
        BFF_RATE_LIMIT_LOGIN="2/minute",
        BFF_TRUSTED_PROXIES="127.0.0.0/8, 10.0.0.0/8",
    )

    def login(forwarded_for: str) -> httpx.Response:
        return httpx.get(f"{web.url}/bff/login", headers={"X-Forwarded-For": forwarded_for})

    assert login("203.0.113.7").status_code == 302
    assert login("192.0.2.1, 203.0.113.7, 10.1.2.3").status_code == 302  # via a second proxy
    assert_refused(login("198.51.100.9, 203.0.113.7"))  # its own claim on the left is ignored
    assert login("203.0.113.8").status_code == 302  # another client has its own count
    assert login("2001:db8:1:2::1").status_code == 302
    assert login("2001:db8:1:2::2").status_code == 302  # the same /64: one subscriber
    assert_refused(login("2001:db8:1:2::3"))


def test_token_requests_past_the_rate_get_the_oauth_format_from_either_instance(
    idp: IdpServer, redis_url: str, start_gateway: StartGateway
) -> None:
    """``/auth/token`` answers what app OAuth libraries read, with Retry-After and no-store;
    refused requests are counted before the body is even read."""
    first, second = two_instances(
        start_gateway, "mobile", idp, redis_url, BFF_RATE_LIMIT_TOKEN="3/minute"
    )
    for url in (first.url, second.url, first.url):
        response = httpx.post(f"{url}/auth/token", data={"grant_type": "password"})
        assert response.status_code == 400
    for url in (second.url, first.url):
        refused = httpx.post(f"{url}/auth/token", data={"grant_type": "refresh_token"})
        assert refused.status_code == 429
        assert refused.json()["error"] == "temporarily_unavailable"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["cache-control"] == "no-store"


def test_the_api_rate_is_per_session_and_shared_by_every_instance(
    idp: IdpServer, core_stubs: str, redis_url: str, start_gateway: StartGateway
) -> None:
    """Alice's fourth screen call within the minute is refused on either instance; Bob's
    session has a count of its own; ``/bff/user`` is not an API call."""
    instances = [
        start_gateway(
            "web",
            idp_url=idp.url,
            stubs_url=core_stubs,
            redis_url=redis_url,
            BFF_RATE_LIMIT_API="3/minute",
        )
        for _ in range(2)
    ]
    browsers = {sub: httpx.Client(timeout=20, headers={"X-CSRF": "1"}) for sub in ("alice", "bob")}
    try:
        for sub, browser in browsers.items():
            assert log_in_browser(browser, instances[0].url, sub=sub).status_code == 302
        alice, bob = browsers["alice"], browsers["bob"]
        for url in (instances[0].url, instances[1].url, instances[0].url):
            assert alice.get(f"{url}/api/products/7").status_code == 200
        assert alice.get(f"{instances[1].url}/bff/user").status_code == 200
        assert_refused(alice.get(f"{instances[1].url}/api/orders"))
        assert_refused(alice.get(f"{instances[0].url}/api/home"))
        assert bob.get(f"{instances[1].url}/api/products/7").status_code == 200
    finally:
        for browser in browsers.values():
            browser.close()
    assert httpx.get(f"{instances[0].url}/api/home", headers={"X-CSRF": "1"}).status_code == 401


def app_headers(mobile: RunningGateway, sub: str) -> dict[str, str]:
    tokens = log_in_app(mobile.url, sub=sub)
    return {"Authorization": f"Bearer {tokens['access_token']}", **APP_VERSION}


def test_the_app_api_rate_is_per_session_and_its_counters_name_no_one(
    idp: IdpServer, redis_url: str, start_gateway: StartGateway
) -> None:
    """Alice's third ``/m/v1`` call is refused, Bob's first is not; Redis holds a keyed hash
    of each caller (never an address, session id or token), a few keys per caller."""
    mobile = start_gateway(
        "mobile", idp_url=idp.url, redis_url=redis_url, BFF_RATE_LIMIT_API="2/minute"
    )
    alice = app_headers(mobile, "alice")
    for _ in range(2):
        assert httpx.get(f"{mobile.url}/m/v1/me", headers=alice).status_code == 200
    assert_refused(httpx.get(f"{mobile.url}/m/v1/me", headers=alice))
    bob = app_headers(mobile, "bob")
    assert httpx.get(f"{mobile.url}/m/v1/me", headers=bob).status_code == 200
    client = redis.Redis.from_url(redis_url)
    try:
        names = " ".join(key.decode() for key in client.scan_iter("bff:rate:*"))
    finally:
        client.close()
    # login start and finish, token (one address); api (two sessions): two keys at most each
    assert 0 < len(names.split()) <= 10
    assert "127.0.0.1" not in names
    for headers in (alice, bob):
        assert headers["Authorization"].removeprefix("Bearer ") not in names


def test_a_rule_set_to_off_counts_nothing(
    idp: IdpServer, redis_url: str, start_gateway: StartGateway
) -> None:
    web = start_gateway("web", idp_url=idp.url, redis_url=redis_url, BFF_RATE_LIMIT_LOGIN="off")
    for _ in range(5):
        assert httpx.get(f"{web.url}/bff/login").status_code == 302
    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter("bff:rate:*")) == []
    finally:
        client.close()


def test_without_redis_one_instance_counts_in_memory(
    idp: IdpServer, start_gateway: StartGateway
) -> None:
    mobile = start_gateway("mobile", idp_url=idp.url, BFF_RATE_LIMIT_LOGIN="2/minute")
    query = {"redirect_uri": "com.example.shop:/oauth/callback"}
    for _ in range(2):
        assert httpx.get(f"{mobile.url}/auth/authorize", params=query).status_code != 429
    assert_refused(httpx.get(f"{mobile.url}/auth/authorize", params=query))
    assert_refused(httpx.get(f"{mobile.url}/auth/callback", params={"state": "x"}))


def test_a_caller_past_its_limit_costs_redis_nothing_more_on_that_instance(
    idp: IdpServer, redis_url: str, start_gateway: StartGateway
) -> None:
    """The first refusal reads when to come back; the instance remembers it until then, so
    more requests from the refused caller are refused without a script call (and the one
    Retry-After counts down, never up)."""
    web = start_gateway(
        "web", idp_url=idp.url, redis_url=redis_url, BFF_RATE_LIMIT_LOGIN="2/minute"
    )
    for _ in range(2):
        assert httpx.get(f"{web.url}/bff/login").status_code == 302
    assert_refused(httpx.get(f"{web.url}/bff/login"))
    client = redis.Redis.from_url(redis_url)
    try:
        before = client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
        again = [httpx.get(f"{web.url}/bff/login") for _ in range(5)]
        after = client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    finally:
        client.close()
    assert after == before
    for response in again:
        assert_refused(response)
    waits = [int(response.headers["retry-after"]) for response in again]
    assert waits == sorted(waits, reverse=True)
