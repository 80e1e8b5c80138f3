"""The web login over real HTTP: dev IdP process, gateway on a socket, a cookie-keeping client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fixtures.gateways import RunningGateway, StartGateway, log_in_browser
from tests.fixtures.idp import IdpServer

CSRF = {"X-CSRF": "1"}


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        yield client


@pytest.fixture
def web(idp: IdpServer, start_gateway: StartGateway) -> RunningGateway:
    return start_gateway("web", idp_url=idp.url)


def test_login_sets_only_an_opaque_httponly_strict_cookie(
    web: RunningGateway, browser: httpx.Client
) -> None:
    callback = log_in_browser(browser, web.url, return_url="/orders?page=2")
    assert callback.status_code == 302
    assert callback.headers["location"] == "/orders?page=2"
    set_cookies = callback.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookies if c.startswith("bff="))
    attributes = {part.strip().lower() for part in session_cookie.split(";")}
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert not any(a.startswith("domain") for a in attributes)
    value = session_cookie.split(";")[0].split("=", 1)[1]
    assert len(value) >= 43
    assert "." not in value  # not a JWT


def test_user_endpoint_returns_claims_expiry_and_logout_url(
    web: RunningGateway, browser: httpx.Client
) -> None:
    log_in_browser(browser, web.url)
    response = browser.get(f"{web.url}/bff/user", headers=CSRF)
    assert response.status_code == 200
    body = response.json()
    assert body["claims"]["sub"] == "alice"
    assert body["claims"]["email"] == "alice@example.com"
    assert 0 < body["sessionExpiresIn"] <= 1800
    assert body["logoutUrl"].startswith("/bff/logout?sid=")
    cookie = browser.cookies["bff"]
    assert cookie not in body["logoutUrl"]


def test_logout_revokes_redirects_to_the_idp_and_the_old_cookie_is_refused(
    web: RunningGateway, browser: httpx.Client, idp: IdpServer
) -> None:
    log_in_browser(browser, web.url)
    old_cookie = browser.cookies["bff"]
    logout_url = browser.get(f"{web.url}/bff/user", headers=CSRF).json()["logoutUrl"]
    response = browser.get(f"{web.url}{logout_url}")
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == idp.url
    query = parse_qs(location.query)
    assert query["post_logout_redirect_uri"] == [f"{web.url}/"]
    assert "id_token_hint" in query
    assert idp.stats()["revocations"] == 1
    replay = httpx.get(f"{web.url}/bff/user", headers=CSRF, cookies={"bff": old_cookie})
    assert replay.status_code == 401


def test_logout_link_with_a_wrong_sid_logs_nobody_out(
    web: RunningGateway, browser: httpx.Client
) -> None:
    log_in_browser(browser, web.url)
    response = browser.get(f"{web.url}/bff/logout", params={"sid": "forged"})
    assert response.status_code == 400
    assert browser.get(f"{web.url}/bff/user", headers=CSRF).status_code == 200


def test_a_logout_that_proves_no_session_touches_no_cookie(
    web: RunningGateway, browser: httpx.Client
) -> None:
    """Cross-site logout: a navigation from another site carries no SameSite=Strict cookie.
    Without the session, the answer is a bare redirect (no expiring ``Set-Cookie`` to drop the
    victim's cookie), and the session lives on."""
    log_in_browser(browser, web.url)
    logout_url = browser.get(f"{web.url}/bff/user", headers=CSRF).json()["logoutUrl"]
    attempts = [
        httpx.get(f"{web.url}/bff/logout"),
        httpx.get(f"{web.url}{logout_url}"),
        httpx.post(f"{web.url}/bff/logout"),
        httpx.get(f"{web.url}{logout_url}", cookies={"bff": "not-a-session-" + "x" * 40}),
    ]
    for response in attempts:
        assert response.status_code == 302
        assert response.headers["location"] == f"{web.url}/"
        assert "set-cookie" not in response.headers
    assert browser.get(f"{web.url}/bff/user", headers=CSRF).status_code == 200


def test_several_tabs_can_log_in_at_once_with_one_login_cookie(
    web: RunningGateway, browser: httpx.Client
) -> None:
    starts = [
        browser.get(f"{web.url}/bff/login", params={"returnUrl": f"/tab{i}"}) for i in range(3)
    ]
    login_cookies = [c for c in browser.cookies.jar if c.name == "bff-login"]
    assert len(login_cookies) == 1
    for i, start in enumerate(reversed(starts)):
        consent = browser.post(start.headers["location"], data={"sub": "alice"})
        callback = browser.get(consent.headers["location"])
        assert callback.status_code == 302, callback.text
        assert callback.headers["location"] == f"/tab{2 - i}"


def test_a_reused_callback_is_refused(web: RunningGateway, browser: httpx.Client) -> None:
    start = browser.get(f"{web.url}/bff/login")
    login_cookie = browser.cookies["bff-login"]
    consent = browser.post(start.headers["location"], data={"sub": "alice"})
    callback_url = consent.headers["location"]
    assert browser.get(callback_url).status_code == 302
    replay = httpx.get(callback_url, cookies={"bff-login": login_cookie})
    assert replay.status_code == 400
    assert "already used" in replay.json()["detail"]


def test_a_callback_from_another_browser_is_refused(
    web: RunningGateway, browser: httpx.Client
) -> None:
    start = browser.get(f"{web.url}/bff/login")
    consent = browser.post(start.headers["location"], data={"sub": "alice"})
    with httpx.Client() as other_browser:
        response = other_browser.get(consent.headers["location"])
    assert response.status_code == 400
    assert "set-cookie" not in response.headers or "bff=" not in response.headers["set-cookie"]


def test_a_planted_session_cookie_is_never_promoted(
    web: RunningGateway, browser: httpx.Client
) -> None:
    """Session fixation: a cookie set before login is replaced by a fresh id."""
    browser.cookies.set("bff", "attacker-chosen-value-" + "x" * 30, domain="127.0.0.1")
    log_in_browser(browser, web.url)
    assert browser.cookies["bff"] != "attacker-chosen-value-" + "x" * 30
    assert browser.get(f"{web.url}/bff/user", headers=CSRF).status_code == 200
    attacker = httpx.get(
        f"{web.url}/bff/user", headers=CSRF, cookies={"bff": "attacker-chosen-value-" + "x" * 30}
    )
    assert attacker.status_code == 401


def test_a_tampered_cookie_is_a_401(web: RunningGateway, browser: httpx.Client) -> None:
    log_in_browser(browser, web.url)
    value = browser.cookies["bff"]
    tampered = value[:-2] + ("AA" if value[-2:] != "AA" else "BB")
    response = httpx.get(f"{web.url}/bff/user", headers=CSRF, cookies={"bff": tampered})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_an_idp_error_response_creates_no_session(
    web: RunningGateway, browser: httpx.Client
) -> None:
    start = browser.get(f"{web.url}/bff/login")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    response = browser.get(
        f"{web.url}/bff/callback", params={"state": state, "error": "access_denied"}
    )
    assert response.status_code == 400
    assert "access_denied" in response.json()["detail"]
    assert "bff" not in browser.cookies


@pytest.mark.parametrize("iss", [None, "https://evil.example"])
def test_a_missing_or_foreign_iss_is_refused(
    web: RunningGateway, browser: httpx.Client, iss: str | None
) -> None:
    """RFC 9207: the dev IdP advertises the iss parameter, so it must be there and ours."""
    start = browser.get(f"{web.url}/bff/login")
    consent = browser.post(start.headers["location"], data={"sub": "alice"})
    query = parse_qs(urlsplit(consent.headers["location"]).query)
    params = {"state": query["state"][0], "code": query["code"][0]}
    if iss:
        params["iss"] = iss
    response = browser.get(f"{web.url}/bff/callback", params=params)
    assert response.status_code == 400
    assert "issuer" in response.json()["detail"]
    assert "bff" not in browser.cookies


def test_a_missing_state_is_refused(web: RunningGateway, browser: httpx.Client) -> None:
    response = browser.get(f"{web.url}/bff/callback", params={"code": "x"})
    assert response.status_code == 400


def test_an_expired_login_attempt_is_refused(web: RunningGateway, browser: httpx.Client) -> None:
    """The login cookie's entries expire: a late callback finds no matching attempt."""
    import msgspec

    from bff_web.auth import WebPendingLogin, login_cookie
    from shared.identity.login import LoginAttempt

    identity = web.identity
    expired = WebPendingLogin(
        attempt=LoginAttempt(state="s" * 43, nonce="n", code_verifier="v" * 43),
        return_url="/",
        expires_at=time.time() - 1,
    )
    cookie = login_cookie(identity, [expired])
    response = httpx.get(
        f"{web.url}/bff/callback",
        params={"state": "s" * 43, "code": "whatever"},
        cookies={"bff-login": cookie.value or ""},
    )
    assert response.status_code == 400
    assert msgspec.json.decode(response.content)["status"] == 400
