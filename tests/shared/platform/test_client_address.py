"""The client's address: the peer, unless the peer is a trusted proxy; then the right-most
forwarded address that is not one. The same rule decides who is "loopback" for /metrics."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest

from shared.platform.client_address import ClientAddresses, parse_address
from tests.fixtures.gateways import StartGateway
from tests.fixtures.idp import IdpServer

PROXIES = ("10.0.0.0/8", "127.0.0.1/32", "2001:db8:ffff::/48")


def scope(peer: str | None, *headers: tuple[str, str]) -> Any:
    return {
        "type": "http",
        "client": (peer, 5555) if peer else None,
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
    }


def address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(value)


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("203.0.113.5", [("X-Forwarded-For", "1.2.3.4")], "203.0.113.5"),  # untrusted peer
        ("10.0.0.9", [], "10.0.0.9"),  # a trusted peer that forwards nothing
        ("10.0.0.9", [("X-Forwarded-For", "6.6.6.6, 198.51.100.7")], "198.51.100.7"),
        ("10.0.0.9", [("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.2.3.4")], "198.51.100.7"),
        (
            "10.0.0.9",
            [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.8")],
            "198.51.100.8",
        ),  # repeated lines are one list, in order
        ("10.0.0.9", [("X-Forwarded-For", "10.1.1.1, 10.2.2.2")], "10.1.1.1"),  # all ours
        ("10.0.0.9", [("X-Forwarded-For", "198.51.100.7:4711")], "198.51.100.7"),
        ("10.0.0.9", [("X-Forwarded-For", "6.6.6.6, garbage, 10.2.3.4")], "10.2.3.4"),
        ("10.0.0.9", [("Forwarded", "for=198.51.100.7")], "10.0.0.9"),  # not the set header
    ],
)
def test_x_forwarded_for(peer: str, headers: list[tuple[str, str]], expected: str) -> None:
    addresses = ClientAddresses(PROXIES, "x-forwarded-for")
    assert addresses.of(scope(peer, *headers)) == address(expected)


def test_rfc_7239_forwarded() -> None:
    addresses = ClientAddresses(PROXIES, "forwarded")
    header = ("Forwarded", 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.9.9.9')
    assert addresses.of(scope("127.0.0.1", header)) == address("2001:db8:cafe::17")
    spoof = ("X-Forwarded-For", "198.51.100.7")
    assert addresses.of(scope("127.0.0.1", spoof)) == address("127.0.0.1")
    assert addresses.of(scope("127.0.0.1", ("Forwarded", "for=unknown"))) == address("127.0.0.1")


def test_no_peer_and_no_trusted_proxies() -> None:
    assert ClientAddresses(PROXIES, "x-forwarded-for").of(scope(None)) is None
    untrusting = ClientAddresses((), "x-forwarded-for")
    spoof = ("X-Forwarded-For", "203.0.113.1")
    assert untrusting.of(scope("127.0.0.1", spoof)) == address("127.0.0.1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1:80 ", "192.0.2.1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("unknown", None),
        ("_hidden", None),
        ("", None),
    ],
)
def test_parse_address(value: str, expected: str | None) -> None:
    assert parse_address(value) == (address(expected) if expected else None)


def test_metrics_loopback_follows_the_same_rule(
    idp: IdpServer, start_gateway: StartGateway
) -> None:
    """Behind a proxy on this machine, a remote client is not "loopback" for /metrics; without
    a trusted proxy, a loopback caller stays one whatever it claims to forward."""
    behind = start_gateway("web", idp_url=idp.url, BFF_TRUSTED_PROXIES="127.0.0.1/32")
    remote = {"X-Forwarded-For": "203.0.113.5"}
    assert httpx.get(f"{behind.url}/metrics", headers=remote).status_code == 404
    assert httpx.get(f"{behind.url}/metrics").status_code == 200
    direct = start_gateway("web", idp_url=idp.url)
    assert httpx.get(f"{direct.url}/metrics", headers=remote).status_code == 200
