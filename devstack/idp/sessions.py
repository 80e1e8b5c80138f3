"""The IdP's login sessions: one per user per browser, named by the ``sid`` in ID tokens and
ended, for every client that joined it, by logout."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoginSession:
    """One login of one user in one browser: what ``sid`` names and what logout ends."""

    sid: str
    sub: str
    auth_time: int
    client_ids: set[str] = field(default_factory=set)


class LoginSessions:
    """The IdP's live login sessions, by ``sid`` (thread-safe: the server is threaded)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now  # when a user authenticates: the wall clock, or a test's
        self._lock = threading.Lock()
        self._by_sid: dict[str, LoginSession] = {}

    def join(
        self,
        sid: str | None,
        sub: str,
        client_id: str,
        *,
        prompt_login: bool = False,
        max_age: int | None = None,
    ) -> LoginSession:
        """The session ``sid`` if it is live and ``sub``'s, else a new one; records the client.

        ``prompt=login``, or a ``max_age`` the session's login is older than, make this a new
        authentication (OIDC Core 3.1.2.1): the session keeps its ``sid`` and clients, and its
        ``auth_time`` becomes now."""
        now = int(self._now())
        with self._lock:
            session = self._by_sid.get(sid) if sid else None
            if session is None or session.sub != sub:
                session = LoginSession(sid=secrets.token_urlsafe(16), sub=sub, auth_time=now)
                self._by_sid[session.sid] = session
            elif prompt_login or (max_age is not None and now - session.auth_time > max_age):
                session.auth_time = now
            session.client_ids.add(client_id)
            return session

    def end(self, sid: str) -> LoginSession | None:
        with self._lock:
            return self._by_sid.pop(sid, None)
