"""Run a screen's core calls concurrently under the request's one deadline.

Each part is a ``Part`` (required) or an ``OptionalPart``::

    gather_parts(parts, deadline=...)
     ├── all done in time             -> GatherResult (degraded = failed optional parts)
     ├── a required part raises       -> the rest are cancelled at once, its error propagates
     │                                   (CoreError subclasses carry their 404/502/503/504)
     └── the deadline passes          -> stragglers are cancelled; optional ones are degraded,
                                         a required one raises CoreTimeout (504)

An optional part's failure never fails the screen: the caller answers 200 with that section empty
and lists it in ``degraded``. Only ``Exception``s are absorbed; cancellation is not a failure.

Values come back typed: ``result.of(part)`` is the part's ``T`` for a ``Part`` and ``T | None``
for an ``OptionalPart`` (``None`` when it degraded), so no caller reads an untyped mapping.

In a trace, the fan-out is one ``fan-out`` span (``bff.degraded``); the cache
lookups and core calls under it carry ``bff.part``, the part they serve, so a degraded part's
failed call names it (``error.type``; ``cancelled`` when the deadline cut it).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar, cast, overload

from shared.platform.deadline import Deadline, deadline_scope
from shared.platform.errors import CoreTimeout
from shared.platform.logging import get_logger
from shared.platform.telemetry import child_span, in_part

__all__ = ["AnyPart", "GatherResult", "OptionalPart", "Part", "gather_parts"]

T = TypeVar("T")

_log = get_logger("bff.gather")


@dataclass(frozen=True, slots=True)
class _Section(Generic[T]):
    """``call`` is a coroutine function (preferred) or an awaitable."""

    name: str
    call: Callable[[], Awaitable[T]] | Awaitable[T]
    required: ClassVar[bool]


@dataclass(frozen=True, slots=True)
class Part(_Section[T]):
    """A section the screen cannot do without: its failure fails the screen.

    Parts are required unless they are made ``OptionalPart``s: hiding a failure has to be a
    decision, and it shows in the part's type.
    """

    required: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class OptionalPart(_Section[T]):
    """A section the screen answers without: its failure leaves it out and names it."""

    required: ClassVar[bool] = False


AnyPart: TypeAlias = Part[Any] | OptionalPart[Any]


class GatherResult:
    """What the parts gave, read back typed with ``of``; ``degraded`` names the optional parts
    that failed or ran out of time, in the order the parts were given."""

    __slots__ = ("_values", "degraded")

    def __init__(self, values: dict[str, object], degraded: list[str]) -> None:
        self._values = values
        self.degraded = degraded

    @overload
    def of(self, part: Part[T]) -> T: ...

    @overload
    def of(self, part: OptionalPart[T]) -> T | None: ...

    def of(self, part: Part[T] | OptionalPart[T]) -> T | None:
        if part.name in self._values:
            return cast(T, self._values[part.name])
        if not part.required and part.name in self.degraded:
            return None
        raise LookupError(f"the part {part.name!r} was not gathered here")


async def gather_parts(parts: Sequence[AnyPart], *, deadline: Deadline) -> GatherResult:
    """Run ``parts`` concurrently; core calls inside see ``deadline`` as the current one."""
    names = [part.name for part in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"part names must be unique: {names}")
    with child_span("fan-out") as span:
        result = await _gather(parts, deadline)
        span.set_attribute("bff.degraded", result.degraded)
        return result


async def _gather(parts: Sequence[AnyPart], deadline: Deadline) -> GatherResult:
    values: dict[str, object] = {}
    failures: dict[str, Exception] = {}
    try:
        with deadline_scope(deadline) as effective:
            if effective.expired:
                _discard(parts)  # start nothing: no time is no time, even for a quick part
                raise TimeoutError
            async with asyncio.timeout(effective.remaining()), asyncio.TaskGroup() as group:
                for part in parts:
                    group.create_task(_run(part, values, failures), name=f"part:{part.name}")
    except TimeoutError:
        pass  # the TaskGroup has cancelled and awaited every straggler
    except BaseExceptionGroup:
        failed = next((part for part in parts if part.required and part.name in failures), None)
        if failed is None:
            raise
        error = failures[failed.name]
        if isinstance(error, TimeoutError):
            raise CoreTimeout(failed.name, f"{failed.name} did not answer in time") from error
        raise error from error.__cause__  # CoreErrors keep their status; anything else is a bug

    degraded: list[str] = []
    for part in parts:
        if part.name in values:
            continue
        if part.required:
            raise CoreTimeout(part.name, f"{part.name} did not finish before the deadline")
        if part.name not in failures:
            _log.warning("part_degraded", part=part.name, error="DeadlineExceeded")
        degraded.append(part.name)
    return GatherResult(values, degraded)


async def _run(part: AnyPart, values: dict[str, object], failures: dict[str, Exception]) -> None:
    try:
        with in_part(part.name):
            call = part.call
            values[part.name] = await (call() if callable(call) else call)
    except Exception as exc:
        failures[part.name] = exc
        if part.required:
            raise  # the TaskGroup cancels the other parts
        _log.warning("part_degraded", part=part.name, error=type(exc).__name__)


def _discard(parts: Sequence[AnyPart]) -> None:
    """Close parts given as coroutine objects that will never run, as a cancelled task would."""
    for part in parts:
        if inspect.iscoroutine(part.call):
            part.call.close()
