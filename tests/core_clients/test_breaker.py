"""The circuit breaker on its own, on a fake clock."""

from __future__ import annotations

import structlog

from core_clients.breaker import BreakerState, CircuitBreaker
from core_clients.policy import ServicePolicy
from tests.fixtures.clock import FakeClock


def test_breaker_forgets_failures_older_than_the_window() -> None:
    clock = FakeClock()
    policy = ServicePolicy(breaker_failure_threshold=3, breaker_window_s=10)
    breaker = CircuitBreaker("catalog", policy, clock=clock.monotonic)
    for _ in range(2):
        permit = breaker.acquire()
        assert permit is not None
        breaker.record_failure(permit)
    clock.advance(11)
    permit = breaker.acquire()
    assert permit is not None
    breaker.record_failure(permit)
    assert breaker.state == "closed"


def test_a_straggler_from_an_earlier_half_open_window_changes_nothing() -> None:
    """A slow probe from the last half-open window succeeds during the next one: only this
    window's probes may close the breaker."""
    clock = FakeClock()
    policy = ServicePolicy(breaker_failure_threshold=1, breaker_open_s=5)
    breaker = CircuitBreaker("catalog", policy, clock=clock.monotonic)
    first = breaker.acquire()
    assert first is not None
    breaker.record_failure(first)
    clock.advance(5)
    straggler, failing = breaker.acquire(), breaker.acquire()
    assert straggler is not None
    assert failing is not None
    breaker.record_failure(failing)  # open again; the straggler is still on its way
    clock.advance(5)
    probe = breaker.acquire()
    assert probe is not None
    assert probe.probe

    breaker.record_success(straggler)
    breaker.record_success(probe)

    assert breaker.state is BreakerState.HALF_OPEN, "one of this window's two probes is not enough"


def test_a_failing_transition_hook_does_not_break_calls() -> None:
    def broken(_service: str, _old: str, _new: str) -> None:
        raise RuntimeError("metrics down")

    breaker = CircuitBreaker(
        "catalog", ServicePolicy(breaker_failure_threshold=1), on_transition=broken
    )
    permit = breaker.acquire()
    assert permit is not None
    with structlog.testing.capture_logs() as logs:
        breaker.record_failure(permit)
    assert breaker.state == "open"
    assert [(e["event"], e["service"]) for e in logs] == [
        ("breaker_transition_hook_failed", "catalog")
    ]
