"""A client gets the smallest image wide enough for the width it lays out."""

from __future__ import annotations

from core_clients.catalog import Image
from shared.screens.images import image_near

IMAGES = [Image(url=f"https://img.test/{w}.jpg", width=w, height=w) for w in (480, 160, 320)]


def test_the_smallest_image_at_least_as_wide_is_picked() -> None:
    assert image_near(IMAGES, 160) == "https://img.test/160.jpg"
    assert image_near(IMAGES, 161) == "https://img.test/320.jpg"


def test_the_largest_image_is_picked_when_none_is_wide_enough() -> None:
    assert image_near(IMAGES, 2000) == "https://img.test/480.jpg"


def test_no_images_give_no_url() -> None:
    assert image_near([], 160) is None
