"""Deny by default: every route of both gateways declares who may call it, and a route that is
not public refuses a caller without a session.

New routes fail here until they declare a policy (``shared.identity.policy.declare``, or the
platform's ``PUBLIC_ROUTE``). The only handlers exempt are the ``OPTIONS`` handlers Litestar
adds to every path by itself (CORS preflight and ``Allow``), which run no code of ours.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.testing import TestClient

from bff_mobile.app import create_app as create_mobile_app
from bff_web.app import create_app as create_web_app
from shared.identity.errors import PolicyRefused
from shared.identity.policy import PUBLIC, Policy, route_policy
from shared.platform.remote_api_settings import REMOTE_PREFIXES
from shared.platform.settings import Gateway, load_settings

APPS = {"web": create_web_app, "mobile": create_mobile_app}
# What a legitimate client sends anyway, so that the answer is about the policy, not CSRF or
# the app version gate.
CLIENT_HEADERS = {"X-CSRF": "1", "X-App-Version": "9.9.9", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Gateway], Litestar]:
    """The gateway with one remote API declared, so its routes are walked too."""
    directory = tmp_path_factory.mktemp("route-policies")

    def make(gateway: Gateway) -> Litestar:
        apis = directory / f"{gateway}.toml"
        apis.write_text(
            f'[[api]]\npath = "{REMOTE_PREFIXES[gateway]}echo"\nupstream = "http://127.0.0.1:9"\n',
            encoding="utf-8",
        )
        environ = {"BFF_OIDC_ISSUER": "http://127.0.0.1:9", "BFF_REMOTE_APIS_FILE": str(apis)}
        return APPS[gateway](load_settings(gateway, environ))

    return make


def is_litestar_options_handler(handler: HTTPRouteHandler) -> bool:
    return handler.http_methods == {"OPTIONS"} and "create_options_handler" in (
        handler.fn.__qualname__
    )


def every_route(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """``(method, path, handler)`` for every handler of the app but Litestar's own OPTIONS."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if isinstance(handler, HTTPRouteHandler) and not is_litestar_options_handler(handler):
                for method in sorted(handler.http_methods):
                    yield method, route.path, handler


@pytest.mark.parametrize("gateway", ["web", "mobile"])
def test_every_route_declares_its_policy(
    gateway: Gateway, build: Callable[[Gateway], Litestar]
) -> None:
    app = build(gateway)
    undeclared = [
        f"{method} {path}"
        for method, path, handler in every_route(app)
        if not isinstance(handler.opt.get("policy"), Policy | str)
    ]
    assert undeclared == []
    for _, _, handler in every_route(app):
        route_policy(handler.opt)  # a declaration that is not a policy would raise


def concrete(path: str) -> str:
    """A request path for a route path: each parameter filled with a harmless value."""
    return re.sub(r"\{[^}]+\}", "x", path)


@pytest.mark.parametrize("gateway", ["web", "mobile"])
def test_every_route_that_is_not_public_refuses_a_caller_without_a_session(
    gateway: Gateway, build: Callable[[Gateway], Litestar]
) -> None:
    """A route that declared a policy but never checks the session would answer here."""
    app = build(gateway)
    private = [
        (method, path)
        for method, path, handler in every_route(app)
        if route_policy(handler.opt) != PUBLIC
    ]
    assert len(private) >= 6
    assert any("/remote/echo" in path for _, path in private)
    answers = {}
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        for method, path in private:
            response = client.request(method, concrete(path), headers=CLIENT_HEADERS)
            answers[f"{method} {path}"] = response.status_code
    assert answers == dict.fromkeys(answers, 401)


def test_a_route_without_a_declaration_is_refused_by_the_check() -> None:
    with pytest.raises(PolicyRefused):
        route_policy({})
