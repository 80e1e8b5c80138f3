"""Encoding, validators and device hints shared by the app's screens.

* ``Accept: application/msgpack`` gets the same payload as MessagePack, anything else JSON.
* Every GET carries a strong ``ETag``: a keyed hash of the user and the exact bytes sent, so a
  tag is never valid for another user (a shared cache or a second account on the phone cannot
  replay it) and changes whenever the content does. ``If-None-Match`` with a current tag gets a
  304 with no body. ``Cache-Control: private, no-cache`` lets only the app keep the answer, and
  only after revalidating.
* ``X-Device-DPR`` (1, 2 or 3; default 1) picks the image width the device needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

import msgspec
from litestar import Request, Response

from bff_mobile.schemas import Screen as ScreenPayload
from core_clients.base import Money
from core_clients.catalog import Image
from core_clients.data import CoreData
from shared.identity.records import SessionRecord
from shared.identity.wiring import Identity
from shared.platform.errors import BadRequest
from shared.screens.context import Screen, open_screen_for
from shared.screens.images import image_near
from shared.screens.sections import DEGRADED_HEADER

MSGPACK = "application/msgpack"
JSON = "application/json"
DPR_HEADER = "x-device-dpr"
SUPPORTED_DPR = (1, 2, 3)
VARY = "Accept, Authorization, X-Device-DPR, X-App-Version"


async def open_screen(request: Request[Any, Any, Any], session: SessionRecord) -> Screen:
    identity: Identity = request.app.state.identity
    core: CoreData = request.app.state.core
    return await open_screen_for(
        identity.tokens,
        session,
        core,
        deadline_s=identity.settings.screen_deadline_s,
        request_id=request.scope["state"].get("request_id"),
    )


def device_pixel_ratio(request: Request[Any, Any, Any]) -> int:
    """1, 2 or 3 (the image sets the catalog has); a missing header means 1."""
    raw = request.headers.get(DPR_HEADER)
    if raw is None:
        return 1
    try:
        ratio = float(raw)
    except ValueError:
        raise BadRequest("X-Device-DPR must be a number such as 2") from None
    if not 0.5 <= ratio <= 4:
        raise BadRequest("X-Device-DPR must be between 1 and 3")
    return min(SUPPORTED_DPR, key=lambda supported: abs(supported - ratio))


class Shaper:
    """Shapes one screen's payload: amounts against the screen's currency, images for the
    device's pixel ratio, then all image URLs written relative to one ``imageBase``."""

    def __init__(self, dpr: int, currency: str) -> None:
        self.dpr = dpr
        self.currency = currency
        self._urls: list[str] = []

    def amount(self, money: Money) -> tuple[int, str | None]:
        """Minor units, and the currency only when it is not the screen's."""
        return money.amount_minor, None if money.currency == self.currency else money.currency

    def image(self, images: list[Image], css_width: int) -> str | None:
        url = image_near(images, css_width * self.dpr)
        if url:
            self._urls.append(url)
        return url

    def finish(self, payload: ScreenPayload) -> ScreenPayload:
        """Set ``imageBase`` and cut it off every image URL in the payload."""
        # Character by character on purpose: the prefix is cut back to its last "/" below.
        base = os.path.commonprefix(self._urls) if len(self._urls) > 1 else ""  # noqa: RUF071
        base = base[: base.rfind("/") + 1]
        if base:
            payload.image_base = base
            _strip_image_base(payload, base)
        return payload


def _strip_image_base(value: object, base: str) -> None:
    if isinstance(value, list):
        for item in value:
            _strip_image_base(item, base)
        return
    if not isinstance(value, msgspec.Struct):
        return
    for name in value.__struct_fields__:
        field = getattr(value, name)
        if name == "image" and isinstance(field, str):
            setattr(value, name, field.removeprefix(base))
        elif name == "images" and isinstance(field, list):
            setattr(value, name, [url.removeprefix(base) for url in field])
        else:
            _strip_image_base(field, base)


def wants_msgpack(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip() == MSGPACK for part in accept.split(","))


def encode(request: Request[Any, Any, Any], payload: msgspec.Struct) -> tuple[bytes, str]:
    if wants_msgpack(request):
        return msgspec.msgpack.encode(payload), MSGPACK
    return msgspec.json.encode(payload), JSON


def entity_tag(identity: Identity, session: SessionRecord, media_type: str, body: bytes) -> str:
    """Keyed by the user: the same bytes for two users give two unrelated tags."""
    user_key = identity.cipher.hash_token(session.sub, "key-name")
    digest = hmac.new(user_key.encode(), media_type.encode() + b"\0" + body, hashlib.sha256)
    return '"' + base64.urlsafe_b64encode(digest.digest()[:18]).decode() + '"'


def _matches(if_none_match: str | None, tag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return tag in candidates or "*" in candidates


def screen_payload(
    request: Request[Any, Any, Any],
    session: SessionRecord,
    payload: msgspec.Struct,
    degraded: list[str],
    *,
    status_code: int = 200,
) -> Response[bytes]:
    identity: Identity = request.app.state.identity
    body, media_type = encode(request, payload)
    headers = {"vary": VARY}
    if degraded:
        headers[DEGRADED_HEADER] = ",".join(degraded)
    if request.method != "GET":
        headers["cache-control"] = "no-store"
        return Response(body, status_code=status_code, media_type=media_type, headers=headers)
    tag = entity_tag(identity, session, media_type, body)
    headers |= {"etag": tag, "cache-control": "private, no-cache"}
    if _matches(request.headers.get("if-none-match"), tag):
        return Response(b"", status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type=media_type, headers=headers)
