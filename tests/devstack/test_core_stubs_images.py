"""The stubs draw the pictures the catalog and accounts advertise, so the demo app shows images
with no network beyond this machine; browsers fetch them without a token, uncounted."""

from __future__ import annotations

import re

import httpx
import pytest

from devstack.core_stubs import create_stubs_app
from devstack.core_stubs.state import MAX_ORIGINS
from tests.devstack.core_stubs_support import AUTH, client
from tests.fixtures.servers import serve_in_thread

__all__ = ["client"]  # a fixture, used by name


def test_every_advertised_product_image_is_an_svg_of_its_width(
    client: httpx.Client, core_stubs: str
) -> None:
    product = client.get("/catalog/v1/products/7").json()
    client.delete(f"{core_stubs}/_stats")

    for image in product["images"]:
        assert image["url"].startswith(f"{core_stubs}/images/products/7/")
        answer = httpx.get(image["url"])  # a browser's request: no token
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("image/svg+xml")
        assert f'width="{image["width"]}"' in answer.text
        assert f'aria-label="{product["title"]}"' in answer.text.replace("&#x27;", "'")
    assert client.get(f"{core_stubs}/_stats").json()["calls"] == {}


def test_titles_are_escaped_in_the_picture(client: httpx.Client, core_stubs: str) -> None:
    """Brands such as "Kettle & Co" and titles such as "Chef's Knife" stay well-formed XML."""
    ids = ",".join(str(n) for n in range(1, 501))
    items = client.get("/catalog/v1/products", params={"ids": ids}).json()["items"]
    product = next(p for p in items if p["attributes"]["brand"] == "Kettle & Co")
    svg = httpx.get(product["images"][0]["url"]).text
    assert "Kettle &amp; Co" in svg
    assert not re.search(r"&(?!amp;|lt;|gt;|quot;|#x27;|#39;)", svg)


UNADVERTISED = [
    "/images/products/7/100.svg",
    "/images/products/501/160.svg",
    "/images/products/7/160.png",
    "/images/avatars/nobody.svg",
]


@pytest.mark.parametrize("path", UNADVERTISED)
def test_only_advertised_pictures_exist(core_stubs: str, path: str) -> None:
    assert httpx.get(f"{core_stubs}{path}").status_code == 404


def test_the_avatar_of_an_account_shows_its_initials(client: httpx.Client) -> None:
    profile = client.get("/accounts/v1/accounts/alice").json()
    answer = httpx.get(profile["avatarUrl"])
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert ">AE</text>" in answer.text


def test_image_urls_follow_the_host_asked_and_few_copies_are_kept() -> None:
    """Each caller gets image URLs under the origin it used; the copies of the catalog made for
    origins are bounded, whatever Host headers a caller sends."""
    app = create_stubs_app()
    with serve_in_thread(app) as base_url:
        for n in range(MAX_ORIGINS + 3):
            host = f"stubs-{n}.test:8100"
            product = httpx.get(
                f"{base_url}/catalog/v1/products/7", headers={**AUTH, "Host": host}
            ).json()
            assert product["images"][0]["url"] == f"http://{host}/images/products/7/160.svg"
    assert len(app.state.stubs.catalogs_by_origin) == MAX_ORIGINS
