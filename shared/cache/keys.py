"""Cache keys, and the Redis names made from them.

Keys exist only as :class:`CacheKey`, made by ``CacheKey.shared`` or by :class:`UserKeys`
(which ``Cache.user_key`` uses): a per-user value is stored and found only under a key whose
Cluster hash tag is a keyed hash of its user's ``sub``, so no code path can hand one user's
data to another, and no reader of Redis can guess whose entry a key is by hashing candidate
``sub``s (an email address, say) without the gateway's secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, TypeAlias, final
from urllib.parse import quote

from shared.cache.local import Lru
from shared.platform.keys import KeyedHasher

KeyPart: TypeAlias = str | int

_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}\Z")
_UNRESERVED_RE: Final = re.compile(r"[A-Za-z0-9_.~-]*\Z")  # what quote() leaves as it is
_KEY_FACTORY: Final = object()
_USER_TAG_HEX_DIGITS: Final = 32  # 128 bits of the keyed hash: plenty for a name, short in Redis
_KNOWN_USER_TAGS: Final = 10_000
"""Users whose tag is remembered: a screen makes several keys of one user, each needing it."""


@final
class CacheKey:
    """Where a cached value lives. Made only by :meth:`shared` or by :class:`UserKeys`.

    A Redis name is ``bff:cache:<cache>:<v|l|g>:{<tag>}<rest>``. The ``{tag}`` is the Cluster
    hash tag: a shared key's whole identity (one slot per product spreads the load), or the
    user's keyed hash (all of a user's entries, locks and generations in one slot). Parts
    are percent-encoded, so ``("a:b",)`` and ``("a", "b")`` are different keys and no part can
    open or close a hash tag.
    """

    __slots__ = ("_rest", "_tag", "kind")

    def __init__(self, tag: str, kind: str, rest: str, *, _factory: object = None) -> None:
        if _factory is not _KEY_FACTORY:
            raise TypeError("make cache keys with CacheKey.shared() or Cache.user_key()")
        self._tag = tag
        self._rest = rest
        self.kind = kind

    @classmethod
    def shared(cls, kind: str, *parts: KeyPart) -> CacheKey:
        """A key for data that is the same for every user, such as a product."""
        return cls(f"s:{check_name(kind)}{_join_parts(parts)}", kind, "", _factory=_KEY_FACTORY)

    @property
    def per_user(self) -> bool:
        return self._tag.startswith("u:")

    @property
    def user_tag(self) -> str | None:
        """The user's tag (the hash tag of all their entries), or None for a shared key."""
        return self._tag if self._tag.startswith("u:") else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CacheKey) and (self._tag, self._rest) == (other._tag, other._rest)

    def __hash__(self) -> int:
        return hash((self._tag, self._rest))

    def __repr__(self) -> str:
        return f"CacheKey({{{self._tag}}}{self._rest})"


@final
class UserKeys:
    """Makes per-user keys; the user appears in them only as ``KeyedHasher`` purpose
    ``cache-user`` of their ``sub`` (an unkeyed hash of an email address is easy to guess)."""

    __slots__ = ("_hasher", "_tags")

    def __init__(self, hasher: KeyedHasher) -> None:
        self._hasher = hasher
        self._tags: Lru[str] = Lru(_KNOWN_USER_TAGS)

    def tag(self, sub: str) -> str:
        """The hash tag of every entry, lock and generation of this user (an HMAC, made once
        per user while they are active, not once per key)."""
        if not sub:
            raise ValueError("a per-user cache key needs the user's sub")
        tag = self._tags.get(sub)
        if tag is None:
            tag = "u:" + self._hasher.hex("cache-user", sub)[:_USER_TAG_HEX_DIGITS]
            self._tags.put(sub, tag)
        return tag

    def key(self, sub: str, kind: str, *parts: KeyPart) -> CacheKey:
        rest = f":{check_name(kind)}{_join_parts(parts)}"
        return CacheKey(self.tag(sub), kind, rest, _factory=_KEY_FACTORY)


@dataclass(frozen=True, slots=True)
class RedisNames:
    """The Redis names of one cache: values (``v``), locks (``l``), user generations (``g``)."""

    prefix: str

    def value(self, key: CacheKey) -> str:
        return f"{self.prefix}:v:{{{key._tag}}}{key._rest}"

    def lock(self, key: CacheKey) -> str:
        return f"{self.prefix}:l:{{{key._tag}}}{key._rest}"

    def generations(self, key: CacheKey) -> str:
        return self.generations_of(key._tag)

    def generations_of(self, user_tag: str) -> str:
        return f"{self.prefix}:g:{{{user_tag}}}"

    def user_kind(self, user_tag: str, kind: str) -> str:
        """The value name of ``kind`` without parts: every entry of it starts with this."""
        return f"{self.prefix}:v:{{{user_tag}}}:{check_name(kind)}"


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(f"cache kinds and names are short lowercase words, not {name!r}")
    return name


def _join_parts(parts: tuple[KeyPart, ...]) -> str:
    for part in parts:
        if not isinstance(part, str | int):
            raise TypeError(f"cache key parts are str or int, not {type(part).__name__}")
    return "".join(":" + _quoted(str(part)) for part in parts)


def _quoted(part: str) -> str:
    """``quote(part, safe="")``, without its work for the usual ids that need no quoting."""
    return part if _UNRESERVED_RE.match(part) else quote(part, safe="")
