"""How the gateway serves the demo app: the same document at each of its paths (a reload or the
return from login lands on the page asked for), its modules as JavaScript, nothing inline the CSP
would have to allow, and product images from the dev stubs allowed outside production only."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from bff_web.app import create_app
from bff_web.security import image_sources
from bff_web.spa_routes import SPA_DIR
from shared.platform.settings import load_settings

STUBS = "http://127.0.0.1:8100"


@pytest.fixture
def client() -> Iterator[TestClient[Litestar]]:
    settings = load_settings(
        "web", {"BFF_OIDC_ISSUER": "http://127.0.0.1:9", "BFF_CORE_CATALOG_URL": f"{STUBS}/catalog"}
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/", "/orders", "/devices", "/products/7"])
def test_each_page_of_the_app_is_the_app_document(client: TestClient[Litestar], path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert '<script type="module" src="/assets/js/main.js">' in page.text


def test_every_module_is_served_as_javascript(client: TestClient[Litestar]) -> None:
    modules = sorted(SPA_DIR.rglob("*.js"))
    assert len(modules) > 5
    for module in modules:
        answer = client.get(f"/assets/{module.relative_to(SPA_DIR).as_posix()}")
        assert answer.status_code == 200
        assert "javascript" in answer.headers["content-type"]


def test_the_app_has_nothing_inline_and_builds_no_markup_from_strings() -> None:
    """The CSP allows no inline script or style; and data is put in the page as text only."""
    html = (SPA_DIR / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html)
    for module in SPA_DIR.rglob("*.js"):
        source = module.read_text()
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", source)
        assert not re.search(r"\beval\(|new Function|setAttribute\(\"style", source)


def test_images_from_the_catalog_origin_are_allowed_outside_production_only(
    client: TestClient[Litestar],
) -> None:
    csp = client.get("/").headers["content-security-policy"]
    assert f"img-src 'self' https: data: {STUBS};" in csp

    settings = load_settings("web", {"BFF_CORE_CATALOG_URL": "http://catalog.internal:8080/v"})
    assert image_sources(settings).endswith("http://catalog.internal:8080")
    assert image_sources(dataclasses.replace(settings, env="prod")) == "'self' https: data:"
