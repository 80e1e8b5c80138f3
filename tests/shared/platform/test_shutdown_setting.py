"""`BFF_SHUTDOWN_TIMEOUT`: how long `bff serve` drains in-flight requests after SIGTERM."""

from __future__ import annotations

import pytest

from shared.platform.settings import ConfigError, load_settings


def test_the_drain_lasts_twenty_seconds_unless_set() -> None:
    assert load_settings("web", {}).shutdown_timeout_s == 20
    assert load_settings("mobile", {"BFF_SHUTDOWN_TIMEOUT": "45"}).shutdown_timeout_s == 45


@pytest.mark.parametrize("value", ["0", "601", "ten", "2.5"])
def test_a_bad_drain_timeout_is_refused_in_one_line(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings("web", {"BFF_SHUTDOWN_TIMEOUT": value})
    assert str(info.value).startswith("BFF_SHUTDOWN_TIMEOUT: ")
    assert "\n" not in str(info.value)
