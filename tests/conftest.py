"""Test-session wiring: each fixture module owns one real part of the stack."""

pytest_plugins = [
    "tests.fixtures.redis",
    "tests.fixtures.servers",
]
