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

Each part starts eagerly, as Python 3.12's eager tasks do: its first step runs at once, in a
context of its own, and a part that finishes without waiting (every part of a cached screen:
level-1 hits) costs no task. Only a part that waits (a Redis read, a core call) goes on in a
task of the group, from where it stopped. That first step runs with no current task, so a
part must not enter ``asyncio.timeout`` (or anything else bound to the current task) before
it first waits; one that does fails at once, loudly, instead of binding the request's task.
The cache's Redis reads and the core calls run in tasks of their own, so none does.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
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
            waiting = _start_eagerly(parts, values, failures)
            if waiting:
                async with asyncio.timeout(effective.remaining()), asyncio.TaskGroup() as group:
                    for part, rest in waiting:
                        group.create_task(rest, name=f"part:{part.name}", context=rest.context)
                    if _required_failure(parts, failures) is not None:
                        raise _FailedAtStart  # the TaskGroup cancels the parts still waiting
    except TimeoutError:
        pass  # the TaskGroup has cancelled and awaited every straggler
    except BaseExceptionGroup:
        if _required_failure(parts, failures) is None:
            raise
    failed = _required_failure(parts, failures)
    if failed is not None:
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


def _required_failure(parts: Sequence[AnyPart], failures: dict[str, Exception]) -> AnyPart | None:
    return next((part for part in parts if part.required and part.name in failures), None)


class _FailedAtStart(Exception):
    """Internal: a required part failed in its first step; the group stops the others."""


def _start_eagerly(
    parts: Sequence[AnyPart], values: dict[str, object], failures: dict[str, Exception]
) -> list[tuple[AnyPart, _Waiting]]:
    """Runs each part's first step; returns the parts that wait, to go on in tasks. A required
    part failing there stops the start: the parts after it never run."""
    waiting: list[tuple[AnyPart, _Waiting]] = []
    loop = asyncio.get_running_loop()
    # The caller's task steps aside during a first step (asyncio's own ``_leave_task`` and
    # ``_enter_task``, as a task's step does around it): no first step can take it for its own.
    task = asyncio.current_task(loop)
    for index, part in enumerate(parts):
        coro = _run(part, values, failures)
        context = contextvars.copy_context()
        if task is not None:
            asyncio.tasks._leave_task(loop, task)
        try:
            awaited = context.run(coro.send, None)
        except StopIteration:
            continue  # done without waiting
        except Exception:  # a required part's failure (``_run`` keeps it in ``failures``)
            _discard(parts[index + 1 :])
            break
        finally:
            if task is not None:
                asyncio.tasks._enter_task(loop, task)
        waiting.append((part, _Waiting(coro, awaited, context)))
    return waiting


class _Waiting(Coroutine[Any, Any, None]):
    """A part's coroutine stopped at its first wait, as the coroutine of the task that goes on
    with it: the task's first step gets what the coroutine waits for; every later step, and
    anything thrown (a cancellation, even before that first step), goes on to the coroutine."""

    __slots__ = ("_awaited", "_coro", "context")

    def __init__(
        self, coro: Coroutine[Any, Any, None], awaited: Any, context: contextvars.Context
    ) -> None:
        self._coro, self._awaited, self.context = coro, awaited, context

    def send(self, value: Any) -> Any:
        awaited, self._awaited = self._awaited, _HANDED
        if awaited is not _HANDED:
            return awaited
        return self._coro.send(value)

    def throw(self, *error: Any) -> Any:
        self._awaited = _HANDED
        return self._coro.throw(*error)

    def close(self) -> None:
        self._awaited = _HANDED
        self._coro.close()

    def __await__(self) -> Generator[Any, Any, None]:
        raise TypeError("a part that waits goes on in a task, which drives it by send and throw")


_HANDED: Any = object()
"""Stands for the awaited object once the task has it."""


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
