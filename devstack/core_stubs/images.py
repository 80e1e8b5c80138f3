"""Product images and avatars, drawn by the stubs themselves, so the demo app shows real pictures
with no network beyond this machine.

Each product image is an SVG square at the width the catalog advertises, in the product's colour
with its title and brand on it; an avatar is a disc with the person's initials. Like ``/health``
these routes are not services: browsers fetch them without a token, and they are neither counted
nor faulted.
"""

from __future__ import annotations

import hashlib
from typing import Annotated
from xml.sax.saxutils import escape

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter

from devstack.core_stubs.models import Product
from devstack.core_stubs.seed import IMAGE_WIDTHS
from devstack.core_stubs.state import Stubs

SVG = "image/svg+xml"
CACHE_A_DAY = {"cache-control": "public, max-age=86400"}

#: Fill and text colour for each colour a product comes in.
PALETTE: dict[str, tuple[str, str]] = {
    "black": ("#23262b", "#ffffff"),
    "white": ("#f4f4f1", "#23262b"),
    "sand": ("#e2cfa8", "#3b2f1c"),
    "forest green": ("#2f5d46", "#ffffff"),
    "navy": ("#1f2f56", "#ffffff"),
    "terracotta": ("#c0603f", "#ffffff"),
}
_DEFAULT_COLOURS = ("#8a8f98", "#ffffff")
_AVATAR_FILLS = ("#2f5d46", "#1f2f56", "#c0603f", "#6b4fa0", "#2a6f8f", "#8a5a14")


def product_svg(product: Product, width: int) -> str:
    """A square picture of the product: its colour, its title and brand, its category."""
    fill, ink = PALETTE.get(product.attributes.get("colour", ""), _DEFAULT_COLOURS)
    title = escape(product.title)
    brand = escape(product.attributes.get("brand", ""))
    category = escape(product.category.upper())
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{width}" '
        f'viewBox="0 0 320 320" role="img" aria-label="{title}">'
        f'<rect width="320" height="320" fill="{fill}"/>'
        f'<circle cx="160" cy="130" r="70" fill="{ink}" fill-opacity="0.14"/>'
        f'<text x="160" y="152" font-family="sans-serif" font-size="64" font-weight="700" '
        f'text-anchor="middle" fill="{ink}">{escape(product.title[:1])}</text>'
        f'<text x="160" y="240" font-family="sans-serif" font-size="26" font-weight="600" '
        f'text-anchor="middle" fill="{ink}">{title}</text>'
        f'<text x="160" y="272" font-family="sans-serif" font-size="17" '
        f'text-anchor="middle" fill="{ink}" fill-opacity="0.8">{brand}</text>'
        f'<text x="160" y="36" font-family="sans-serif" font-size="14" letter-spacing="2" '
        f'text-anchor="middle" fill="{ink}" fill-opacity="0.7">{category}</text>'
        "</svg>"
    )


def avatar_svg(account_id: str, initials: str) -> str:
    digest = hashlib.sha256(account_id.encode()).digest()
    fill = _AVATAR_FILLS[digest[0] % len(_AVATAR_FILLS)]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
        f'<circle cx="48" cy="48" r="48" fill="{fill}"/>'
        '<text x="48" y="60" font-family="sans-serif" font-size="36" font-weight="600" '
        f'text-anchor="middle" fill="#ffffff">{escape(initials)}</text>'
        "</svg>"
    )


@get("/images/products/{product_id:str}/{file_name:str}")
async def product_image(
    product_id: FromPath[str], file_name: FromPath[str], stubs: Stubs
) -> Response[str]:
    """``/images/products/7/320.svg``: only the widths the catalog advertises exist."""
    product = stubs.catalog.get(product_id)
    width = file_name.removesuffix(".svg")
    if product is None or not file_name.endswith(".svg") or width not in map(str, IMAGE_WIDTHS):
        raise NotFoundException(f"no image {product_id}/{file_name}")
    return Response(product_svg(product, int(width)), media_type=SVG, headers=CACHE_A_DAY)


@get("/images/avatars/{file_name:str}")
async def avatar_image(
    file_name: FromPath[str], initials: Annotated[str, QueryParameter(max_length=3)] = ""
) -> Response[str]:
    """``acc_….svg?initials=AE``: the account id picks the colour."""
    account_id = file_name.removesuffix(".svg")
    if not file_name.endswith(".svg") or not account_id.startswith("acc_"):
        raise NotFoundException(f"no avatar {file_name}")
    return Response(avatar_svg(account_id, initials), media_type=SVG, headers=CACHE_A_DAY)


IMAGE_ROUTES = [product_image, avatar_image]
