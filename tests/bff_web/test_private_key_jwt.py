"""The web gateway as a FAPI 2.0 client of a real dev IdP: pushed authorization requests and
``private_key_jwt`` (EC and RSA keys made here) on login, refresh and logout with revocation;
the JWKS it publishes; a key or ``aud`` the IdP refuses is a clean error, never a 500."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fixtures.client_keys import KeyKind, start_key_client, write_private_key
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import StartGateway
from tests.fixtures.idp import StartIdp

CSRF = {"X-CSRF": "1"}
TOKEN_LIFETIME_S = 4  # refreshed in its last 2 s


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_login_refresh_and_logout_with_par_and_private_key_jwt(
    start_idp: StartIdp,
    start_gateway: StartGateway,
    core_stubs: str,
    redis_url: str,
    tmp_path: Path,
    kind: KeyKind,
) -> None:
    clock = FakeClock()
    setup = start_key_client(
        start_idp,
        start_gateway,
        "web",
        write_private_key(tmp_path, kind),
        require_par=True,
        token_max_age=TOKEN_LIFETIME_S,
        stubs_url=core_stubs,
        redis_url=redis_url,
        clock=clock,
    )
    web, idp = setup.gateway, setup.idp
    with httpx.Client(timeout=20, headers=CSRF) as browser:
        start = browser.get(f"{web.url}/bff/login")
        assert start.status_code == 302
        query = parse_qs(urlsplit(start.headers["location"]).query)
        # The browser sees only who asks and the pushed request's handle.
        assert set(query) == {"client_id", "request_uri"}
        assert query["request_uri"][0].startswith("urn:ietf:params:oauth:request_uri:")
        consent = browser.post(start.headers["location"], data={"sub": "alice"})
        assert consent.status_code == 302, consent.text
        assert browser.get(consent.headers["location"]).status_code == 302
        assert browser.get(f"{web.url}/bff/user").status_code == 200
        # The pushed request and the code exchange, each with its own assertion.
        assert idp.stats()["client_assertions"] == 2

        idp.reset_stats()
        clock.advance(TOKEN_LIFETIME_S / 2 + 0.3)  # inside the refresh window
        assert browser.get(f"{web.url}/api/home").status_code == 200
        assert idp.stats()["token_requests"]["refresh_token"] == 1
        assert idp.stats()["client_assertions"] == 1

        idp.reset_stats()
        logout_url = browser.get(f"{web.url}/bff/user").json()["logoutUrl"]
        assert browser.get(f"{web.url}{logout_url}").status_code == 302
    assert idp.stats()["revocations"] == 1
    assert idp.stats()["client_assertions"] == 1


def _impostor(
    start_idp: StartIdp, start_gateway: StartGateway, tmp_path: Path, **options: str
) -> tuple[str, str]:
    """A gateway signing as ``bff-web`` with a key the IdP does not know: the IdP registered
    ``bff-web`` by another gateway's JWKS. Returns (impostor URL, IdP URL)."""
    genuine = start_key_client(start_idp, start_gateway, "web", write_private_key(tmp_path, "ec"))
    impostor = start_gateway(
        "web",
        idp_url=genuine.idp.url,
        BFF_OIDC_CLIENT_AUTH="private_key_jwt",
        BFF_OIDC_CLIENT_KEY_FILE=str(write_private_key(tmp_path, "ec", "other.pem")),
        **options,
    )
    return impostor.url, genuine.idp.url


def test_a_pushed_request_with_an_unknown_key_is_a_clean_error_page(
    start_idp: StartIdp, start_gateway: StartGateway, tmp_path: Path
) -> None:
    web_url, _ = _impostor(start_idp, start_gateway, tmp_path)
    response = httpx.get(f"{web_url}/bff/login", headers={"accept": "text/html"})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert "Sign-in is unavailable" in response.text
    assert "Traceback" not in response.text
    assert "invalid_client" not in response.text  # the IdP's words stay in the logs


def test_a_code_exchange_with_an_unknown_key_is_a_clean_error(
    start_idp: StartIdp, start_gateway: StartGateway, tmp_path: Path
) -> None:
    """Without PAR the key is first used for the code: the callback is refused with a 400
    problem, and no session is opened."""
    web_url, idp_url = _impostor(start_idp, start_gateway, tmp_path, BFF_OIDC_PAR="never")
    with httpx.Client(timeout=20) as browser:
        start = browser.get(f"{web_url}/bff/login")
        assert start.headers["location"].startswith(f"{idp_url}/")
        assert "request_uri" not in parse_qs(urlsplit(start.headers["location"]).query)
        consent = browser.post(start.headers["location"], data={"sub": "alice"})
        callback = browser.get(consent.headers["location"])
        assert callback.status_code == 400
        assert callback.headers["content-type"].startswith("application/problem+json")
        assert "bff" not in browser.cookies
        assert browser.get(f"{web_url}/bff/user", headers=CSRF).status_code == 401
