"""What the extensions share: one ``DevIdp`` per Flask app, kept in ``app.extensions`` (no module
globals, so two apps in one process never share sessions or counters), and the names and
settings every extension agrees on."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import flask
from flask.typing import ResponseReturnValue
from joserfc.jwk import RSAKey

from devstack.idp.dpop import DpopBindings
from devstack.idp.pushed import PushedRequests
from devstack.idp.sessions import LoginSessions
from devstack.received_jwts import SeenTokenIds

CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
SIGNING_ALG = "RS256"
#: Where the browser's Flask session keeps the ``sid`` of its IdP login session.
SESSION_SID_KEY = "dev_idp_sid"

_EXTENSION = "dev_idp"


class Stats:
    """What ``/_stats`` reports: every token-endpoint request by grant type, revocations, and
    UserInfo requests, and the ``private_key_jwt`` assertions accepted (at the token,
    revocation and PAR endpoints)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token_requests: Counter[str] = Counter()
        self._revocations = 0
        self._userinfo_requests = 0
        self._client_assertions = 0

    def count_client_assertion(self) -> None:
        with self._lock:
            self._client_assertions += 1

    def count_token_request(self, grant_type: str) -> None:
        with self._lock:
            self._token_requests[grant_type] += 1

    def count_revocation(self) -> None:
        with self._lock:
            self._revocations += 1

    def count_userinfo_request(self) -> None:
        with self._lock:
            self._userinfo_requests += 1

    def reset(self) -> None:
        with self._lock:
            self._token_requests.clear()
            self._revocations = 0
            self._userinfo_requests = 0
            self._client_assertions = 0

    def as_json(self) -> dict[str, object]:
        with self._lock:
            token_requests = {"authorization_code": 0, "refresh_token": 0, "client_credentials": 0}
            token_requests.update(self._token_requests)
            return {
                "token_requests": token_requests,
                "revocations": self._revocations,
                "userinfo_requests": self._userinfo_requests,
                "client_assertions": self._client_assertions,
            }


MockView = Callable[[], ResponseReturnValue]  # the mock's views are synchronous


@dataclass
class DevIdp:
    """Everything the extensions share, kept in ``app.extensions`` (no module globals)."""

    storage: Any  # the mock's Storage
    server: Any  # the mock's authlib AuthorizationServer
    signing_key: RSAKey  # the mock's key, the one its JWKS publishes
    backchannel_logout_uris: Mapping[str, str]
    mock_views: Mapping[str, MockView]  # the mock's views that are wrapped here, by name
    sessions: LoginSessions = field(default_factory=LoginSessions)
    client_keys: Mapping[str, Any] = field(default_factory=dict)
    """Clients that authenticate with ``private_key_jwt``: their ``jwks_uri`` or ``jwks``."""
    seen_assertion_ids: SeenTokenIds = field(default_factory=SeenTokenIds)
    pushed_requests: PushedRequests = field(default_factory=PushedRequests)
    advertise_par: bool = False
    require_par: bool = False
    stats: Stats = field(default_factory=Stats)
    dpop: DpopBindings | None = None
    """DPoP mode (``--dpop``): the tokens' bindings and the proofs judged; None: off."""
    access_token_ttl: int = 300

    def stats_json(self) -> dict[str, object]:
        """``/_stats``: the counters, and in DPoP mode the proofs judged, in order."""
        result = self.stats.as_json()
        if self.dpop is not None:
            result["dpop_proofs"] = self.dpop.proofs()
        return result

    def reset_stats(self) -> None:
        self.stats.reset()
        if self.dpop is not None:
            self.dpop.reset_proofs()


def attach_idp(app: flask.Flask, idp: DevIdp) -> None:
    app.extensions[_EXTENSION] = idp


def current_idp() -> DevIdp:
    return cast(DevIdp, flask.current_app.extensions[_EXTENSION])


def request_issuer() -> str:
    """The issuer, derived from the request exactly as the mock does it."""
    return flask.request.host_url.rstrip("/")
