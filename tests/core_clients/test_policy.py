"""A service's policy refuses values that make no sense."""

from __future__ import annotations

import pytest

from core_clients.policy import ServicePolicy


@pytest.mark.parametrize(
    "bad",
    [{"max_attempts": 0}, {"total_timeout": 0}, {"backoff_cap": -1}, {"retry_budget_ratio": -0.1}],
)
def test_policy_refuses_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="ServicePolicy"):
        ServicePolicy(**bad)  # type: ignore[arg-type]
