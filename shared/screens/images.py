"""Which of a product's images a client gets: both gateways pick by the width they lay out."""

from __future__ import annotations

from core_clients.catalog import Image

__all__ = ["image_near"]


def image_near(images: list[Image], width: int) -> str | None:
    """The smallest image at least ``width`` pixels wide (or the largest there is)."""
    if not images:
        return None
    wide_enough = [image for image in images if image.width >= width]
    if wide_enough:
        return min(wide_enough, key=lambda image: image.width).url
    return max(images, key=lambda image: image.width).url
