"""A service's policy: the operator's settings, with defaults defined once."""

from __future__ import annotations

import pytest

from core_clients.policy import ServicePolicy
from shared.platform.settings import CoreServiceSettings, load_settings


def test_a_policy_without_settings_has_the_settings_defaults() -> None:
    """ServicePolicy() and a service configured with nothing but its URL are the same policy."""
    unconfigured = CoreServiceSettings(name="catalog", url="http://catalog.test")
    assert ServicePolicy() == ServicePolicy.from_settings(unconfigured)
    from_environment = load_settings("web", {}).core_service("catalog")
    assert ServicePolicy() == ServicePolicy.from_settings(from_environment)


def test_the_policy_follows_the_services_settings() -> None:
    environ = {
        "BFF_CORE_CATALOG_CONNECT_TIMEOUT": "0.25",
        "BFF_CORE_CATALOG_TIMEOUT": "1.5",
        "BFF_CORE_CATALOG_MAX_ATTEMPTS": "2",
        "BFF_CORE_CATALOG_BREAKER_FAILURES": "7",
        "BFF_CORE_CATALOG_BREAKER_OPEN_SECONDS": "30",
    }
    policy = ServicePolicy.from_settings(load_settings("web", environ).core_service("catalog"))
    assert (policy.connect_timeout, policy.read_timeout, policy.total_timeout) == (0.25, 1.5, 1.5)
    assert (policy.max_attempts, policy.breaker_failure_threshold) == (2, 7)
    assert policy.breaker_open_s == 30


@pytest.mark.parametrize(
    "bad",
    [{"max_attempts": 0}, {"total_timeout": 0}, {"backoff_cap": -1}, {"retry_budget_ratio": -0.1}],
)
def test_policy_refuses_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="ServicePolicy"):
        ServicePolicy(**bad)  # type: ignore[arg-type]
