"""Test-session wiring: each fixture module owns one real part of the stack."""

import pytest

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.clock",
    "tests.fixtures.redis",
    "tests.fixtures.redis_cluster",
    "tests.fixtures.stubs",
    "tests.fixtures.idp",
    "tests.fixtures.gateways",
    "tests.fixtures.browser",
    "tests.fixtures.tls",
]


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, the loop the gateways run on."""
    return "asyncio"
