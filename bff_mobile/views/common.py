"""Encoding, validators and device hints shared by the app's screens.

* ``Accept: application/msgpack`` gets the same payload as MessagePack, anything else JSON.
* Every GET carries a strong ``ETag``: a keyed hash of the user and of everything the bytes
  sent are made from (the screen's gathered data, the encoding, the pixel ratio, and the code
  that shapes and encodes them: ``rendering_fingerprint``), so a tag is never valid for another
  user (a shared cache or a second account on the phone cannot replay it), changes whenever the
  content can, and is known before the payload is shaped. ``If-None-Match`` with a current tag
  gets a 304 with no body, and no payload is shaped or encoded for it.
  ``Cache-Control: private, no-cache`` lets only the app keep the answer, and only after
  revalidating.
* ``X-Device-DPR`` (1, 2 or 3; default 1) picks the image width the device needs.

A handler gets these headers and the user as its ``reply`` dependency (``REPLY``), which turns
the payload into the response.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

import msgspec
import msgspec.inspect
from litestar import Response
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter

import shared.screens as shared_screens
from bff_mobile.schemas import Screen as ScreenPayload
from core_clients.base import Money
from core_clients.catalog import Image
from shared.platform.errors import BadRequest
from shared.platform.keys import KeyedHasher
from shared.platform.plugin import KEYS
from shared.screens.context import Screen
from shared.screens.images import image_near
from shared.screens.sections import DEGRADED_HEADER

MSGPACK = "application/msgpack"
JSON = "application/json"
SUPPORTED_DPR = (1, 2, 3)
VARY = "Accept, Authorization, X-Device-DPR, X-App-Version"
PayloadT = TypeVar("PayloadT", bound=ScreenPayload)


def device_pixel_ratio(header: str | None) -> int:
    """1, 2 or 3 (the image sets the catalog has); a missing header means 1."""
    if header is None:
        return 1
    try:
        ratio = float(header)
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

    def finish(self, payload: PayloadT) -> PayloadT:
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
    for name, holds_urls in _image_fields(type(value)):
        field = getattr(value, name)
        if not holds_urls:
            _strip_image_base(field, base)
        elif isinstance(field, str):
            setattr(value, name, field.removeprefix(base))
        elif isinstance(field, list):
            setattr(value, name, [url.removeprefix(base) for url in field])


@functools.cache
def _image_fields(payload: type[msgspec.Struct]) -> tuple[tuple[str, bool], ...]:
    """The fields of a payload type that hold image URLs (``image``, ``images``: True) or
    payloads, alone or in a list (False): the only ones the stripping visits, instead of every
    field of every card of a screen."""
    info = msgspec.inspect.type_info(payload)
    assert isinstance(info, msgspec.inspect.StructType)
    fields: list[tuple[str, bool]] = []
    for field in info.fields:
        if field.name in ("image", "images"):
            fields.append((field.name, True))
        elif _holds_payload(field.type):
            fields.append((field.name, False))
    return tuple(fields)


def _holds_payload(kind: msgspec.inspect.Type) -> bool:
    if isinstance(kind, msgspec.inspect.StructType):
        return True
    if isinstance(kind, msgspec.inspect.ListType):
        return _holds_payload(kind.item_type)
    if isinstance(kind, msgspec.inspect.UnionType):
        return any(_holds_payload(member) for member in kind.types)
    return False


def wants_msgpack(accept: str | None) -> bool:
    return any(part.split(";")[0].strip() == MSGPACK for part in (accept or "").split(","))


def media_type_for(accept: str | None) -> str:
    return MSGPACK if wants_msgpack(accept) else JSON


def encode(media_type: str, payload: msgspec.Struct) -> bytes:
    if media_type == MSGPACK:
        return msgspec.msgpack.encode(payload)
    return msgspec.json.encode(payload)


@functools.cache
def rendering_fingerprint() -> str:
    """What decides a screen's bytes besides its data and the request's headers: the source of
    the code that shapes and encodes screens (this package and ``shared.screens``) and the
    encoder's version. A deploy that changes any of it changes every tag, so an app never
    keeps bytes that the same data would no longer give."""
    digest = hashlib.sha256(msgspec.__version__.encode())
    for package in (Path(__file__).parents[1], Path(shared_screens.__file__).parent):
        for source in sorted(package.rglob("*.py")):
            digest.update(source.read_bytes())
    return digest.hexdigest()


def entity_tag(keys: KeyedHasher, sub: str, media_type: str, dpr: int, made_from: bytes) -> str:
    """Keyed by the user: the same data for two users gives two unrelated tags."""
    parts = (sub, media_type, str(dpr), rendering_fingerprint(), made_from)
    return '"' + keys.short("etag", *parts) + '"'


def _matches(if_none_match: str | None, tag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return tag in candidates or "*" in candidates


@dataclass(frozen=True, slots=True)
class Reply:
    """How the app asked for this answer (encoding, pixel ratio, the tag it holds) and for whom:
    what turns a payload into the response."""

    keys: KeyedHasher
    sub: str
    accept: str | None
    dpr: str | None
    if_none_match: str | None

    def device_pixel_ratio(self) -> int:
        return device_pixel_ratio(self.dpr)

    def screen(
        self, data: object, payload: Callable[[], msgspec.Struct], degraded: list[str]
    ) -> Response[bytes]:
        """A GET's answer, tagged for the user from ``data`` (the screen's gathered data, which
        ``payload`` shapes): a 304 without body when the app has the current tag, before any
        payload is shaped or encoded."""
        media_type = media_type_for(self.accept)
        made_from = msgspec.msgpack.encode(data)
        tag = entity_tag(self.keys, self.sub, media_type, self.device_pixel_ratio(), made_from)
        headers = _headers(degraded) | {"etag": tag, "cache-control": "private, no-cache"}
        if _matches(self.if_none_match, tag):
            return Response(b"", status_code=304, headers=headers)
        body = encode(media_type, payload())
        return Response(body, status_code=200, media_type=media_type, headers=headers)

    def created(self, payload: msgspec.Struct, degraded: list[str]) -> Response[bytes]:
        """A POST's answer: 201, kept by no cache (it is no representation to revalidate)."""
        media_type = media_type_for(self.accept)
        headers = _headers(degraded) | {"cache-control": "no-store"}
        return Response(
            encode(media_type, payload), status_code=201, media_type=media_type, headers=headers
        )


def _headers(degraded: list[str]) -> dict[str, str]:
    headers = {"vary": VARY}
    if degraded:
        headers[DEGRADED_HEADER] = ",".join(degraded)
    return headers


def read_reply(
    screen: NamedDependency[Screen],
    state: State,
    accept: Annotated[str | None, HeaderParameter(name="Accept", required=False)] = None,
    dpr: Annotated[str | None, HeaderParameter(name="X-Device-DPR", required=False)] = None,
    if_none_match: Annotated[
        str | None, HeaderParameter(name="If-None-Match", required=False)
    ] = None,
) -> Reply:
    """Only collects: a bad header is refused where the handler reads it, once the screen is
    open. It follows the screen (rather than resolving beside it) and takes the keys from the
    state's slot, so a screen's dependencies resolve as one chain: Litestar starts a task group
    for each level that holds more than one."""
    return Reply(KEYS.get(state), screen.sub, accept, dpr, if_none_match)


REPLY = {"reply": Provide(read_reply, sync_to_thread=False)}
"""A screen handler's ``dependencies``: it then names ``reply: Reply``."""
