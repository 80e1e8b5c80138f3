"""When a failed attempt may be tried again: jittered backoff inside a retry budget."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final

from core_clients.policy import ServicePolicy
from shared.platform.clock import SYSTEM_CLOCK

_BUDGET_BANK_CAP: Final = 10.0
"""Most retry tokens traffic can bank: a long healthy spell cannot fund a burst of retries."""


def full_jitter_backoff(retry: int, policy: ServicePolicy) -> float:
    """Seconds to wait before retry number ``retry`` (1-based): uniform in [0, min(cap, base*2^n)).

    Full jitter spreads the retries of many callers that failed together.
    """
    ceiling = min(policy.backoff_cap, policy.backoff_base * (2 ** (retry - 1)))
    return random.uniform(0.0, ceiling)


class RetryBudget:
    """Token bucket that keeps retries to ``ratio`` of the traffic under sustained failure.

    Every call deposits ``ratio`` tokens (banked up to a small cap); every retry spends one. A
    separate floor of ``min_per_s`` tokens a second lets a quiet service still retry a little.
    ``clock`` gives monotonic seconds.
    """

    def __init__(
        self,
        ratio: float,
        min_per_s: float,
        *,
        clock: Callable[[], float] = SYSTEM_CLOCK.monotonic,
    ) -> None:
        self._ratio = ratio
        self._min_per_s = min_per_s
        # Up to one second's worth (at least one token, so a fraction per second still adds up).
        self._floor_cap = max(1.0, min_per_s) if min_per_s > 0 else 0.0
        self._clock = clock
        self._banked = 0.0
        self._floor = self._floor_cap
        self._floor_at = clock()

    @classmethod
    def for_policy(
        cls, policy: ServicePolicy, *, clock: Callable[[], float] = SYSTEM_CLOCK.monotonic
    ) -> RetryBudget:
        return cls(policy.retry_budget_ratio, policy.retry_budget_min_per_s, clock=clock)

    def deposit(self) -> None:
        self._banked = min(_BUDGET_BANK_CAP, self._banked + self._ratio)

    def try_spend(self) -> bool:
        """Take one retry token if there is one."""
        now = self._clock()
        self._floor = min(self._floor_cap, self._floor + (now - self._floor_at) * self._min_per_s)
        self._floor_at = now
        if self._banked >= 1.0:
            self._banked -= 1.0
            return True
        if self._floor >= 1.0:
            self._floor -= 1.0
            return True
        return False
