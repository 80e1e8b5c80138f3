"""The app's screens against the real stubs, through a real app login: compact payloads,
ETag/304, MessagePack, device pixel ratio, degradation, and the payload budget against the web."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from bff_mobile.schemas import Home
from bff_mobile.views import common as views_common
from bff_mobile.views.common import JSON, MSGPACK, Reply, entity_tag, rendering_fingerprint
from shared.platform.keys import KeyedHasher
from tests.bff_mobile.test_auth_flow import APP_VERSION, log_in_app
from tests.fixtures.gateways import TEST_SECRET_KEY, RunningGateway, StartGateway, log_in_browser
from tests.fixtures.idp import IdpServer


@pytest.fixture
def mobile(idp: IdpServer, core_stubs: str, start_gateway: StartGateway) -> RunningGateway:
    return start_gateway("mobile", idp_url=idp.url, stubs_url=core_stubs)


def app_client(mobile: RunningGateway, sub: str = "alice") -> httpx.Client:
    tokens = log_in_app(mobile.url, sub=sub)
    return httpx.Client(
        base_url=f"{mobile.url}/m/v1",
        headers={"Authorization": f"Bearer {tokens['access_token']}", **APP_VERSION},
        timeout=20,
    )


def test_home_is_compact_with_minor_units_and_no_labels(
    mobile: RunningGateway, core_stubs: str
) -> None:
    with app_client(mobile) as app:
        response = app.get("/home")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    home = response.json()
    assert home["name"]
    assert "degraded" not in home  # empty lists are left out
    assert home["currency"] == "EUR"
    card = home["recommended"][0]
    assert set(card) <= {"id", "title", "price", "currency", "image", "rating"}
    assert isinstance(card["price"], int)
    assert (home["imageBase"] + card["image"]).startswith(f"{core_stubs}/images/products/")
    assert not any(key.endswith("Label") for key in response.text.split('"'))


def test_etag_and_if_none_match_give_a_304_without_body(mobile: RunningGateway) -> None:
    with app_client(mobile) as app:
        first = app.get("/products/7")
        tag = first.headers["etag"]
        assert first.headers["cache-control"] == "private, no-cache"
        again = app.get("/products/7", headers={"If-None-Match": tag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == tag
        other = app.get("/products/7", headers={"If-None-Match": '"not-the-tag"'})
        assert other.status_code == 200


def test_every_get_has_an_etag(mobile: RunningGateway) -> None:
    with app_client(mobile) as app:
        for path in ("/home", "/products/7", "/orders"):
            assert app.get(path).headers.get("etag"), path


def test_msgpack_carries_the_same_payload(mobile: RunningGateway) -> None:
    with app_client(mobile) as app:
        as_json = app.get("/products/9").json()
        packed = app.get("/products/9", headers={"Accept": "application/msgpack"})
    assert packed.headers["content-type"].startswith("application/msgpack")
    assert msgspec.msgpack.decode(packed.content) == as_json
    assert len(packed.content) < len(msgspec.json.encode(as_json))


@pytest.mark.parametrize(("dpr", "width"), [("1", 160), ("2", 320), ("3", 480)])
def test_images_are_picked_for_the_device_pixel_ratio(
    mobile: RunningGateway, dpr: str, width: int
) -> None:
    with app_client(mobile) as app:
        home = app.get("/home", headers={"X-Device-DPR": dpr}).json()
    assert (home["imageBase"] + home["recommended"][0]["image"]).endswith(f"/{width}.svg")


def test_a_malformed_device_pixel_ratio_is_a_400(mobile: RunningGateway) -> None:
    with app_client(mobile) as app:
        response = app.get("/home", headers={"X-Device-DPR": "retina"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


def test_etags_are_never_shared_across_users(mobile: RunningGateway, core_stubs: str) -> None:
    """Two users whose order lists are both empty get identical bytes but different tags, and
    one user's tag is never a 304 for the other."""
    empty = [
        sub
        for sub in (f"nobody-{n}" for n in range(60))
        if not httpx.get(
            f"{core_stubs}/orders/v1/accounts/{sub}/orders",
            headers={"Authorization": "Bearer probe"},
        ).json()["items"]
    ][:2]
    assert len(empty) == 2
    with app_client(mobile, empty[0]) as first, app_client(mobile, empty[1]) as second:
        one, two = first.get("/orders"), second.get("/orders")
        assert one.content == two.content
        assert one.headers["etag"] != two.headers["etag"]
        crossed = second.get("/orders", headers={"If-None-Match": one.headers["etag"]})
        assert crossed.status_code == 200


def test_failed_recommendations_degrade_the_home_screen(
    mobile: RunningGateway, core_stubs: str
) -> None:
    httpx.put(f"{core_stubs}/_chaos/recommendations", json={"errorRate": 1.0}).raise_for_status()
    with app_client(mobile) as app:
        response = app.get("/home")
    assert response.status_code == 200
    assert response.json()["degraded"] == ["recommendations"]
    assert response.headers["x-bff-degraded"] == "recommendations"


def test_failed_accounts_fail_the_home_screen(mobile: RunningGateway, core_stubs: str) -> None:
    httpx.put(f"{core_stubs}/_chaos/accounts", json={"errorRate": 1.0}).raise_for_status()
    with app_client(mobile) as app:
        response = app.get("/home")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")


def test_orders_pages_and_placing_an_order(mobile: RunningGateway) -> None:
    with app_client(mobile) as app:
        page = app.get("/orders", params={"limit": 2}).json()
        assert len(page.get("items", [])) <= 2
        body = {"lines": [{"productId": "5", "quantity": 1}]}
        assert app.post("/orders", json=body).status_code == 400  # no Idempotency-Key
        key = {"Idempotency-Key": "app-order-0001"}
        placed = app.post("/orders", json=body, headers=key)
        assert placed.status_code == 201, placed.text
        assert "etag" not in placed.headers
        replay = app.post("/orders", json=body, headers=key)
        assert replay.json()["order"]["id"] == placed.json()["order"]["id"]
        assert placed.json()["order"]["id"]
        newest = app.get("/orders", params={"limit": 1}).json()["items"][0]
        assert newest["id"] == placed.json()["order"]["id"]
        assert app.get("/orders", params={"limit": 51}).status_code == 400


def test_screens_need_a_valid_bearer_token(mobile: RunningGateway) -> None:
    response = httpx.get(
        f"{mobile.url}/m/v1/home", headers={"Authorization": "Bearer nope", **APP_VERSION}
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_old_apps_are_asked_to_upgrade(
    idp: IdpServer, core_stubs: str, start_gateway: StartGateway
) -> None:
    mobile = start_gateway(
        "mobile", idp_url=idp.url, stubs_url=core_stubs, BFF_MOBILE_MIN_APP_VERSION="2.0.0"
    )
    tokens = log_in_app(mobile.url)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    old = httpx.get(f"{mobile.url}/m/v1/home", headers={**headers, "X-App-Version": "1.9.9"})
    assert old.status_code == 426
    assert old.json()["upgradeUrl"]
    fine = httpx.get(f"{mobile.url}/m/v1/home", headers={**headers, "X-App-Version": "2.0.0"})
    assert fine.status_code == 200


def test_mobile_home_is_at_most_half_the_bytes_of_web_home(
    idp: IdpServer, core_stubs: str, start_gateway: StartGateway, mobile: RunningGateway
) -> None:
    """The payload budget: the same user's home, for a phone, in at most half the bytes."""
    web = start_gateway("web", idp_url=idp.url, stubs_url=core_stubs)
    with httpx.Client(headers={"X-CSRF": "1"}, timeout=20) as browser:
        log_in_browser(browser, web.url, sub="alice")
        web_home = browser.get(f"{web.url}/api/home")
    with app_client(mobile, "alice") as app:
        mobile_home = app.get("/home")
    web_body: dict[str, Any] = web_home.json()
    assert web_body["recommendations"], "the budget is measured for a user with recommendations"
    assert len(mobile_home.json()["recommended"]) == len(web_body["recommendations"])
    assert len(mobile_home.content) <= len(web_home.content) / 2, (
        len(mobile_home.content),
        len(web_home.content),
    )


def test_an_entity_tag_is_strong_and_keyed_by_user_media_type_pixel_ratio_and_data() -> None:
    keys = KeyedHasher(TEST_SECRET_KEY)
    tag = entity_tag(keys, "alice", JSON, 2, b"{}")
    assert tag == '"' + keys.short("etag", "alice", JSON, "2", rendering_fingerprint(), b"{}") + '"'
    assert entity_tag(keys, "bob", JSON, 2, b"{}") != tag
    assert entity_tag(keys, "alice", JSON, 2, b"{ }") != tag
    assert entity_tag(keys, "alice", MSGPACK, 2, b"{}") != tag
    assert entity_tag(keys, "alice", JSON, 3, b"{}") != tag
    assert entity_tag(KeyedHasher("another secret, another key!"), "alice", JSON, 2, b"{}") != tag


def test_the_rendering_fingerprint_follows_the_shaping_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy that changes how a screen is shaped changes every tag: the same data no longer
    gives the same bytes."""
    before = rendering_fingerprint()
    assert rendering_fingerprint() == before  # computed once
    rendering_fingerprint.cache_clear()
    shaping = tmp_path / "bff_mobile" / "views" / "common.py"
    shaping.parent.mkdir(parents=True)
    shaping.write_text("# another way to shape a screen\n")
    monkeypatch.setattr(views_common, "__file__", str(shaping))
    try:
        assert rendering_fingerprint() != before
    finally:
        rendering_fingerprint.cache_clear()


def test_a_reply_is_a_304_only_for_the_users_current_tag() -> None:
    keys = KeyedHasher(TEST_SECRET_KEY)
    payload = Home(currency="EUR", name="Alice")
    data = {"account": "alice's"}
    shaped: list[Home] = []

    def shape() -> Home:
        shaped.append(payload)
        return payload

    first = Reply(keys, "alice", None, None, None).screen(data, shape, [])
    tag = first.headers["etag"]
    assert (first.status_code, first.content) == (200, msgspec.json.encode(payload))
    again = Reply(keys, "alice", None, None, f'W/"x", {tag}').screen(data, shape, [])
    assert (again.status_code, again.content) == (304, b"")
    assert len(shaped) == 1  # the 304 was answered before any payload was shaped
    assert Reply(keys, "bob", None, None, tag).screen(data, shape, []).status_code == 200
    changed = Reply(keys, "alice", None, None, tag).screen({"account": "new"}, shape, [])
    assert changed.status_code == 200
    other_ratio = Reply(keys, "alice", None, "3", tag).screen(data, shape, [])
    assert other_ratio.status_code == 200
    created = Reply(keys, "alice", None, None, None).created(payload, ["products"])
    assert created.status_code == 201
    assert "etag" not in created.headers
    assert created.headers["X-BFF-Degraded"] == "products"
