"""The ``screen`` dependency: a handler that names it gets the caller's screen, opened from the
gateway's session dependency and the state's identity, core data and settings, with the
request's id."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.testing import TestClient

from core_clients.wiring import CORE
from shared.identity.wiring import IDENTITY, Identity
from shared.platform.clock import SYSTEM_CLOCK
from shared.platform.plugin import CLOCK, SETTINGS
from shared.platform.request_context import RequestContextMiddleware
from shared.platform.settings import load_settings
from shared.screens.context import Screen
from shared.screens.provider import screen_for_mobile_session, screen_for_session
from tests.fixtures.gateways import gateway_environ
from tests.shared.screens.fakes import FakeTokens, core_data, session_record


def identity_with(tokens: FakeTokens) -> Identity:
    """An ``Identity`` with only the token service set: all a screen may use of it."""
    identity = object.__new__(Identity)
    object.__setattr__(identity, "tokens", tokens)
    return identity


@pytest.mark.parametrize(
    ("session_dependency", "provider"),
    [("session", screen_for_session), ("mobile_session", screen_for_mobile_session)],
)
def test_a_handler_naming_screen_gets_the_callers_screen(
    session_dependency: str, provider: Any
) -> None:
    environ = gateway_environ(
        "web", 8000, idp_url="http://idp.test", stubs_url=None, redis_url=None
    )
    settings = load_settings("web", {**environ, "BFF_SCREEN_DEADLINE": "7"})
    tokens, core, session = FakeTokens("token-for-bob"), core_data(), session_record("bob")
    handed: list[Screen] = []

    @get("/screen", sync_to_thread=False)
    def keep(screen: NamedDependency[Screen]) -> None:
        handed.append(screen)

    state = State()
    IDENTITY.fill(state, identity_with(tokens))
    CORE.fill(state, core)
    SETTINGS.fill(state, settings)
    CLOCK.fill(state, SYSTEM_CLOCK)
    app = Litestar(
        route_handlers=[keep],
        dependencies={
            session_dependency: Provide(lambda: session, sync_to_thread=False),
            "screen": Provide(provider),
        },
        state=state,
    )
    app.asgi_handler = RequestContextMiddleware(app.asgi_handler)  # takes the request id
    with TestClient(app) as client:
        assert (
            client.get("/screen", headers={"X-Request-Id": "req-42-from-the-caller"}).status_code
            == 200
        )
    (screen,) = handed
    assert tokens.asked_for == [session]
    assert (screen.session, screen.core) == (session, core)
    assert screen.ctx.access_token == "token-for-bob"
    assert screen.ctx.request_id == "req-42-from-the-caller"
    assert 6 < screen.deadline.remaining() <= 7  # BFF_SCREEN_DEADLINE, started on opening
