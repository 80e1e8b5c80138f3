"""How hard to try one core service: timeouts, attempts, backoff, retry budget, breaker."""

from __future__ import annotations

import msgspec


class ServicePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How hard to try one core service. Settings builds one per service; times in seconds."""

    connect_timeout: float = 0.5
    read_timeout: float = 2.0
    total_timeout: float = 3.0
    """Bound on one client call: every attempt and backoff sleep, even without a deadline."""
    max_attempts: int = 3
    backoff_base: float = 0.05
    backoff_cap: float = 0.5
    retry_budget_ratio: float = 0.2
    retry_budget_min_per_s: float = 5.0
    breaker_failure_threshold: int = 5
    breaker_window_s: float = 10.0
    breaker_open_s: float = 5.0
    breaker_half_open_probes: int = 2
    max_connections: int = 100
    """Pool size for the service's one HTTP client (open and keep-alive alike)."""

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
