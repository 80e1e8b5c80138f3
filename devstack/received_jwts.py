"""What the dev IdP and the core stubs share about the JWTs they receive: the ``jti`` values
already used (client assertions, DPoP proofs), and a token's claims read without any check, only
to see what it declares (a proof's nonce, an access token's ``cnf.jkt``). Thread-safe: the IdP's
server is threaded."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

MIN_JTI_MEMORY_S = 60


class SeenTokenIds:
    """``jti`` values already used, each kept until its token could no longer be accepted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    def first_use(self, jti: str, expires_at: float) -> bool:
        now = time.time()
        with self._lock:
            self._until = {key: until for key, until in self._until.items() if until > now}
            if jti in self._until:
                return False
            self._until[jti] = max(expires_at, now + MIN_JTI_MEMORY_S)
            return True


def claims_unverified(token: str) -> dict[str, Any]:
    """A compact JWS's payload as claims, unchecked; empty for anything else."""
    try:
        value = json.loads(jws.extract_compact(token.encode("ascii")).payload)
    except (JoseError, ValueError, UnicodeError):
        return {}
    return value if isinstance(value, dict) else {}
