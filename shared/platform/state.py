"""The gateway's typed state: what the lifespan builds, and how handlers are handed it.

Litestar's ``app.state`` is a plain mapping. Each layer that owns a long-lived resource declares
one ``StateSlot`` for it (``SETTINGS`` here, ``IDENTITY`` in ``shared.identity``, ``CORE`` in
``core_clients``). The lifespan fills the slot; handlers never read ``app.state`` but name a
dependency, which the slot provides through Litestar's ``Provide``::

    IDENTITY = StateSlot("identity", Identity)              # declared by the layer
    IDENTITY.fill(app.state, Identity(...))                 # in the lifespan
    dependencies={"identity": IDENTITY.provide()}           # in create_app
    async def handler(identity: Injected[Identity]) -> ...  # in the handler

A slot read before the lifespan filled it fails loudly, naming the slot.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeAlias, TypeVar

from litestar.datastructures import State
from litestar.di import Dependency, Provide

T = TypeVar("T")

Injected: TypeAlias = Annotated[T, Dependency(kind="named")]
"""``identity: Injected[Identity]``: the parameter is the dependency of that name (explicit, as
Litestar asks, rather than inferred from the name)."""


class StateSlot(Generic[T]):
    """One named, typed resource on the application state."""

    __slots__ = ("name", "type_")

    def __init__(self, name: str, type_: type[T]) -> None:
        self.name = name
        self.type_ = type_

    def fill(self, state: State, value: T) -> None:
        if not isinstance(value, self.type_):
            raise TypeError(f"state slot {self.name!r} holds a {self.type_.__name__}")
        state[self.name] = value

    def clear(self, state: State) -> None:
        state[self.name] = None

    def get(self, state: State) -> T:
        """The value ``fill`` checked. Read on every request, so only its presence is checked
        here: an ``isinstance`` against a runtime-checkable protocol (``Clock``) walks the
        protocol's members each time."""
        value: T | None = state.get(self.name)
        if value is None:
            raise RuntimeError(f"state slot {self.name!r} is not filled (is the lifespan running?)")
        return value

    def provide(self) -> Provide:
        """A Litestar dependency handing the slot's value to any handler that names it."""

        def provider(state: State) -> Any:
            return self.get(state)

        return Provide(provider, sync_to_thread=False, use_cache=False)
