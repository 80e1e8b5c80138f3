"""Who is calling: the client's IP address, as far as this gateway can trust what it is told.

The socket's peer is the client, unless the peer is one of ``BFF_TRUSTED_PROXIES`` (the load
balancers and ingress in front of the gateway). Then the client is the right-most address in the
forwarding header (``BFF_TRUSTED_PROXY_HEADER``: ``X-Forwarded-For`` or RFC 7239 ``Forwarded``)
that is not itself a trusted proxy. Each proxy appends the address it received the request from,
so everything right of the client's entry was written by proxies we trust, and everything left
of it by the client (who may write anything)::

    X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.0.0.5     peer 10.0.0.9 (trusted)
                     ^ sent by the client  ^ client      ^ trusted proxy

A caller that is not a trusted proxy cannot move its address by sending the header: it is not
read at all. Rate limits and the loopback rule of ``/metrics`` both ask this module.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TypeAlias

from litestar.types import Scope

from shared.platform.settings import ProxyHeader

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddresses:
    """The rule above, for one gateway's trusted proxies and header."""

    def __init__(self, trusted_proxies: Sequence[str], header: ProxyHeader) -> None:
        self._trusted: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(cidr, strict=False) for cidr in trusted_proxies
        )
        self._header = header.encode("latin-1")

    def of(self, scope: Scope) -> IPAddress | None:
        """The client's address, or None when the server was not told a usable peer."""
        client = scope.get("client")
        peer = parse_address(client[0]) if client else None
        if peer is None or not self._is_trusted(peer):
            return peer
        hops = list(self._forwarded_hops(scope))
        nearest_trusted = peer
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                # A trusted proxy passed on what it could not read: the client is unknown
                # beyond that proxy, so the proxy is the best we know.
                return nearest_trusted
            if not self._is_trusted(address):
                return address
            nearest_trusted = address
        return nearest_trusted  # every hop is one of ours: the left-most one made the request

    def _is_trusted(self, address: IPAddress) -> bool:
        return any(address in network for network in self._trusted)

    def _forwarded_hops(self, scope: Scope) -> Iterable[str]:
        """The header's entries, left to right, across repeated header lines in their order."""
        for name, value in scope.get("headers", ()):
            if name.lower() != self._header:
                continue
            for element in value.decode("latin-1").split(","):
                if self._header == b"forwarded":
                    yield _forwarded_for(element)
                else:
                    yield element.strip()


def _forwarded_for(element: str) -> str:
    """The ``for=`` of one RFC 7239 element (``for="[2001:db8::1]:4711";proto=https``)."""
    for pair in element.split(";"):
        name, _, value = pair.strip().partition("=")
        if name.lower() == "for":
            return value.strip().strip('"')
    return ""


def parse_address(value: str) -> IPAddress | None:
    """An IP address from a peer or header entry, with or without a port (``1.2.3.4:80``,
    ``[2001:db8::1]:443``); None for anything else (``unknown``, obfuscated ids, garbage)."""
    text = value.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
