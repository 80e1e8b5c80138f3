"""One place per boundary where a lower layer's errors become that boundary's answers.

A layer below the gateways (identity) raises its own domain errors and knows nothing of HTTP.
Each gateway declares one ``ErrorMap`` per boundary from those errors to what it answers there
(a ``GatewayError`` for problem+json, an OAuth error on a token endpoint), and a test walks
every subclass of the domain's base error and fails on one the map does not name
(``unmapped``). Lookup follows the class hierarchy, so a subclass added later is still answered
by its parent's entry until it gets its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from litestar import Request, Response

from shared.platform.errors import GatewayError, handle_gateway_error

E = TypeVar("E", bound=Exception)
R = TypeVar("R")


class ErrorMap(Generic[E, R]):
    def __init__(self, base: type[E], entries: Mapping[type[E], Callable[[E], R]]) -> None:
        if base not in entries:
            raise ValueError("an error map must answer its base error")
        self.base = base
        self._entries = dict(entries)

    def translate(self, exc: E) -> R:
        for cls in type(exc).__mro__:
            translate = self._entries.get(cls)
            if translate is not None:
                return translate(exc)
        raise TypeError(f"{type(exc).__name__} is not a {self.base.__name__}")

    def unmapped(self) -> list[type[E]]:
        """Every subclass of the base error the map does not name itself."""
        missing: list[type[E]] = []
        pending = list(self.base.__subclasses__())
        while pending:
            cls = pending.pop()
            pending.extend(cls.__subclasses__())
            if cls not in self._entries:
                missing.append(cls)
        return sorted(missing, key=lambda cls: cls.__name__)


def problem_handler(
    errors: ErrorMap[E, GatewayError],
) -> Callable[[Request[Any, Any, Any], E], Response[bytes]]:
    """A Litestar exception handler rendering the translated problem."""

    def handle(request: Request[Any, Any, Any], exc: E) -> Response[bytes]:
        return handle_gateway_error(request, errors.translate(exc))

    return handle
