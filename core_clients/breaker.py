"""The circuit breaker of one core service: fail fast while the service is down.

Breaker generations: every state change starts a new generation, and an outcome counts only in
the generation that let its call through, so a straggler from an old window cannot flip the
state.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from opentelemetry import trace

from core_clients.policy import ServicePolicy
from shared.platform.clock import SYSTEM_CLOCK
from shared.platform.logging import get_logger

_log = get_logger("bff.core.breaker")


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


BreakerTransitionHook = Callable[[str, BreakerState, BreakerState], None]
"""Called as ``hook(service, old_state, new_state)``; telemetry hangs its counters here."""


@dataclass(frozen=True, slots=True)
class BreakerPermit:
    """Leave to send one request; ``generation`` ties its outcome to the state that allowed it."""

    generation: int
    probe: bool


class CircuitBreaker:
    """Per-service breaker: closed -> open -> half-open -> closed (or open again).

    * closed: ``failure_threshold`` failures within ``window_s`` (no success in between) open it.
    * open: every call fails fast for ``open_s``.
    * half-open: up to ``half_open_probes`` calls at a time go through; once that many have
      succeeded it closes, and any failure opens it again.

    A failure is the service not answering usefully (transport error, timeout, 5xx, not the
    contract); a 404 or other 4xx is an answer, so it counts as a success. Outcomes of calls let
    through under an earlier state are ignored, so a slow straggler cannot close a fresh breaker.
    ``clock`` gives monotonic seconds.
    """

    def __init__(
        self,
        service: str,
        policy: ServicePolicy,
        *,
        on_transition: BreakerTransitionHook | None = None,
        clock: Callable[[], float] = SYSTEM_CLOCK.monotonic,
    ) -> None:
        self.service = service
        self.on_transition = on_transition
        self._threshold = policy.breaker_failure_threshold
        self._window_s = policy.breaker_window_s
        self._open_s = policy.breaker_open_s
        self._probes = policy.breaker_half_open_probes
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._probes_in_flight = 0
        self._probe_successes = 0

    @property
    def state(self) -> BreakerState:
        self._half_open_if_due()
        return self._state

    def acquire(self) -> BreakerPermit | None:
        """A permit to send, or ``None`` when the call must fail fast."""
        self._half_open_if_due()
        if self._state is BreakerState.CLOSED:
            return BreakerPermit(self._generation, probe=False)
        if self._state is BreakerState.HALF_OPEN and self._probes_in_flight < self._probes:
            self._probes_in_flight += 1
            return BreakerPermit(self._generation, probe=True)
        return None

    def record_success(self, permit: BreakerPermit) -> None:
        if permit.generation != self._generation:
            return
        if not permit.probe:
            self._failures.clear()
            return
        self._probes_in_flight -= 1
        self._probe_successes += 1
        if self._probe_successes >= self._probes:
            self._move(BreakerState.CLOSED)

    def record_failure(self, permit: BreakerPermit) -> None:
        if permit.generation != self._generation:
            return
        if permit.probe:
            self._move(BreakerState.OPEN)
            return
        now = self._clock()
        self._failures.append(now)
        while self._failures and self._failures[0] <= now - self._window_s:
            self._failures.popleft()
        if len(self._failures) >= self._threshold:
            self._move(BreakerState.OPEN)

    def release(self, permit: BreakerPermit) -> None:
        """The call ended without an outcome (cancelled): free its probe slot, judge nothing."""
        if permit.generation == self._generation and permit.probe:
            self._probes_in_flight -= 1

    def _half_open_if_due(self) -> None:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._open_s:
            self._move(BreakerState.HALF_OPEN)

    def _move(self, new: BreakerState) -> None:
        old = self._state
        self._state = new
        self._generation += 1
        self._failures.clear()
        self._probes_in_flight = 0
        self._probe_successes = 0
        if new is BreakerState.OPEN:
            self._opened_at = self._clock()
        trace.get_current_span().add_event(
            "bff.breaker.transition", {"bff.breaker.from": old.value, "bff.breaker.to": new.value}
        )
        if self.on_transition is not None:
            try:
                self.on_transition(self.service, old, new)
            except Exception:
                # A telemetry bug must not turn into a failed core call.
                _log.exception("breaker_transition_hook_failed", service=self.service)
