"""Freshness of a stored entry, and errors remembered as plain data."""

from __future__ import annotations

import pytest
import structlog

from shared.cache import MAX_LIFETIME_S
from shared.cache.entries import Freshness, envelope_decoder, value_envelope
from shared.platform.errors import CoreNotFound, CoreUnavailable

NOW = 1_700_000_000.0


def freshness(negative: tuple[type[Exception], ...] = (CoreNotFound,)) -> Freshness:
    return Freshness.checked(10, 60, 30, negative)


@pytest.mark.parametrize(
    ("age", "state"),
    [(0, "fresh"), (9.9, "fresh"), (10, "stale"), (69.9, "stale"), (70, "expired")],
)
def test_an_entry_is_fresh_then_stale_then_expired(age: float, state: str) -> None:
    envelope, _ = value_envelope("v", "", NOW)
    assert freshness().state(envelope, NOW + age) == state


def test_a_remembered_error_is_rebuilt_with_its_state_for_negative_ttl() -> None:
    policy = freshness()
    stored = policy.negative_envelope(CoreNotFound("catalog", "no p404"), "", NOW)
    assert stored is not None
    envelope = envelope_decoder.decode(stored[1])  # as another instance reads it
    assert envelope.error is not None

    assert policy.state(envelope, NOW + 29) == "negative"
    assert policy.state(envelope, NOW + 30) == "expired"
    error = policy.rebuild_error(envelope.error)
    assert type(error) is CoreNotFound
    assert (error.service, error.detail) == ("catalog", "no p404")
    # A lookup that no longer lists the error's class loads again instead of raising it.
    assert freshness(negative=()).state(envelope, NOW) == "expired"


def test_only_listed_errors_with_plain_data_are_remembered() -> None:
    class Odd(CoreNotFound):
        pass

    odd = Odd("catalog")
    odd.handle = object()  # type: ignore[attr-defined]  # not plain data: cannot be stored
    with structlog.testing.capture_logs() as logs:
        assert freshness().negative_envelope(odd, "", NOW) is None
    assert freshness().negative_envelope(CoreUnavailable("catalog"), "", NOW) is None
    assert [e["event"] for e in logs] == ["cache_negative_not_storable"]


@pytest.mark.parametrize(
    ("ttl", "stale_ttl", "negative_ttl"),
    [(0, 1, None), (1, -1, None), (1, 1, 0), (MAX_LIFETIME_S, 1, None), (1, 1, MAX_LIFETIME_S + 1)],
)
def test_lifetimes_that_make_no_sense_are_refused(
    ttl: float, stale_ttl: float, negative_ttl: float | None
) -> None:
    with pytest.raises(ValueError, match=r"ttl|live at most"):
        Freshness.checked(ttl, stale_ttl, negative_ttl, ())
