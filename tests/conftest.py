"""Test-session wiring: each fixture module owns one real part of the stack."""

pytest_plugins = [
    "tests.fixtures.redis",
    "tests.fixtures.servers",
]

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, the loop the gateways run on."""
    return "asyncio"
