"""How hard to try one core service: timeouts, attempts, backoff, retry budget, breaker.

The operator's knobs (``BFF_CORE_<SERVICE>_*``) are read into ``CoreServiceSettings``, whose
defaults are the only ones: a ``ServicePolicy`` made without them takes the same values, and
:meth:`ServicePolicy.from_settings` is the one mapping from settings to policy.
"""

from __future__ import annotations

from typing import Final

import msgspec

from shared.platform.settings import CoreServiceSettings

_CONFIGURED: Final = CoreServiceSettings(name="defaults", url="http://core.invalid")
"""A service configured with nothing but its name and URL: where the defaults below come from."""


class ServicePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How hard to try one core service; times in seconds."""

    connect_timeout: float = _CONFIGURED.connect_timeout_s
    read_timeout: float = _CONFIGURED.timeout_s
    total_timeout: float = _CONFIGURED.timeout_s
    """Bound on one client call: every attempt and backoff sleep, even without a deadline."""
    max_attempts: int = _CONFIGURED.max_attempts
    backoff_base: float = 0.05
    backoff_cap: float = 0.5
    retry_budget_ratio: float = 0.2
    retry_budget_min_per_s: float = 5.0
    breaker_failure_threshold: int = _CONFIGURED.breaker_failures
    breaker_window_s: float = 10.0
    breaker_open_s: float = _CONFIGURED.breaker_open_s
    breaker_half_open_probes: int = 2
    max_connections: int = 100
    """Pool size for the service's one HTTP client (open and keep-alive alike)."""

    @classmethod
    def from_settings(cls, service: CoreServiceSettings) -> ServicePolicy:
        """The policy the operator configured for ``service``; the rest keeps its defaults.

        One timeout setting bounds both a single read and the whole call: a read may take all
        the time the call has, but never more.
        """
        return cls(
            connect_timeout=service.connect_timeout_s,
            read_timeout=service.timeout_s,
            total_timeout=service.timeout_s,
            max_attempts=service.max_attempts,
            breaker_failure_threshold=service.breaker_failures,
            breaker_open_s=service.breaker_open_s,
        )

    def __post_init__(self) -> None:
        positive = {
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "total_timeout": self.total_timeout,
            "max_attempts": self.max_attempts,
            "breaker_failure_threshold": self.breaker_failure_threshold,
            "breaker_window_s": self.breaker_window_s,
            "breaker_half_open_probes": self.breaker_half_open_probes,
            "max_connections": self.max_connections,
        }
        for name, number in positive.items():
            if number <= 0:
                raise ValueError(f"ServicePolicy.{name} must be positive, not {number}")
        if min(self.backoff_base, self.backoff_cap, self.breaker_open_s) < 0:
            raise ValueError("ServicePolicy backoff and open times must not be negative")
        if self.retry_budget_ratio < 0 or self.retry_budget_min_per_s < 0:
            raise ValueError("ServicePolicy retry budget must not be negative")
