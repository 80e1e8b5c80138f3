"""What the IdP remembers for a short while: pushed authorization requests (RFC 9126) by
``request_uri`` (the ``jti`` values already used: ``devstack.received_jwts``). Thread-safe: the
server is threaded."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
PUSHED_REQUEST_LIFETIME_S = 60


@dataclass(frozen=True)
class PushedRequest:
    client_id: str
    params: Mapping[str, str]
    expires_at: float


class PushedRequests:
    """Pushed requests by ``request_uri``, each good until used for a code or expired."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_uri: dict[str, PushedRequest] = {}

    def push(self, client_id: str, params: Mapping[str, str]) -> str:
        request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(24)
        expires_at = time.time() + PUSHED_REQUEST_LIFETIME_S
        with self._lock:
            self._by_uri[request_uri] = PushedRequest(client_id, dict(params), expires_at)
        return request_uri

    def find(self, request_uri: str, client_id: str | None) -> PushedRequest | None:
        """The live request pushed by ``client_id`` under ``request_uri``, if any."""
        with self._lock:
            pushed = self._by_uri.get(request_uri)
        if pushed is None or pushed.expires_at < time.time() or pushed.client_id != client_id:
            return None
        return pushed

    def used(self, request_uri: str) -> None:
        with self._lock:
            self._by_uri.pop(request_uri, None)
