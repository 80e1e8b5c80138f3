"""Everything the mobile token handler must refuse, over real HTTP against the dev IdP."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from shared.identity.app_codes import CODE_TTL_S
from shared.identity.mobile_tokens import ACCESS_TOKEN_TTL_S
from tests.bff_mobile.test_auth_flow import (
    CUSTOM_SCHEME_URI,
    LOOPBACK_URI,
    AppLogin,
    app_redirect_query,
    browser_login,
    get_code,
    get_me,
    log_in_app,
    redeem_code,
    refresh,
)
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import RunningGateway, StartGateway, log_in_browser
from tests.fixtures.idp import IdpServer

CSRF = {"X-CSRF": "1"}


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        yield client


@pytest.fixture
def mobile(
    request: pytest.FixtureRequest, idp: IdpServer, start_gateway: StartGateway
) -> RunningGateway:
    """The gateway on the memory store, or on the one named by ``ON_EACH_STORE``."""
    store = getattr(request, "param", "memory")
    redis_url = request.getfixturevalue("redis_url") if store == "redis" else None
    return start_gateway("mobile", idp_url=idp.url, redis_url=redis_url, clock=FakeClock())


# What is refused must not depend on the session store behind the gateway.
@pytest.fixture
def fake_clock(mobile: RunningGateway) -> FakeClock:
    """The clock the ``mobile`` gateway reads: a test moves it instead of sleeping."""
    assert isinstance(mobile.clock, FakeClock)
    return mobile.clock


ON_EACH_STORE = pytest.mark.parametrize("mobile", ["memory", "redis"], indirect=True)


def assert_error_page(response: httpx.Response) -> None:
    """A plain 400 page with the gateway's security headers: no redirect, no cookie."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp


def assert_oauth_error(response: httpx.Response, error: str) -> None:
    """The OAuth token-endpoint error format (RFC 6749 5.2), not problem+json."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error


# --- /auth/authorize ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        pytest.param(f"{LOOPBACK_URI}/", id="trailing-slash"),
        pytest.param(LOOPBACK_URI.upper(), id="different-case"),
        pytest.param("HTTP://127.0.0.1:8765/cb", id="scheme-case"),
        pytest.param("com.example.Shop:/oauth/callback", id="custom-scheme-case"),
        pytest.param(f"{CUSTOM_SCHEME_URI}/extra", id="extra-path"),
        pytest.param(f"{LOOPBACK_URI}/../cb", id="dot-segments"),
        pytest.param("com.example.shop:/oauth/call", id="prefix-of-registered"),
        pytest.param(f"{CUSTOM_SCHEME_URI}x", id="registered-is-prefix"),
        pytest.param("https://127.0.0.1:8765/cb", id="https-instead-of-http"),
        pytest.param(f"{LOOPBACK_URI}?next=https://evil.example", id="extra-query"),
        pytest.param(f"{LOOPBACK_URI}#x", id="fragment"),
        pytest.param(f"{LOOPBACK_URI}%2F", id="encoded-slash"),
        pytest.param(f" {LOOPBACK_URI}", id="leading-space"),
        pytest.param("http://localhost:8765/cb", id="localhost-for-127.0.0.1"),
        pytest.param("http://127.0.0.1:8766/cb", id="other-port"),
        pytest.param("https://evil.example/cb", id="unregistered"),
        pytest.param("", id="empty"),
        pytest.param(None, id="missing"),
    ],
)
def test_an_unregistered_or_near_miss_redirect_uri_gets_a_page_never_a_redirect(
    mobile: RunningGateway, redirect_uri: str | None
) -> None:
    """Only an exact registered string is a redirect target: no prefix, case or slash leniency."""
    params = AppLogin().authorize_params(redirect_uri=redirect_uri)
    if redirect_uri is None:
        params.pop("redirect_uri", None)
    response = httpx.get(f"{mobile.url}/auth/authorize", params=params)
    assert_error_page(response)
    assert "not registered" in response.text


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"code_challenge": None}, id="no-challenge"),
        pytest.param({"code_challenge_method": None}, id="no-method"),
        pytest.param({"code_challenge_method": "plain"}, id="plain"),
        pytest.param({"code_challenge_method": "s256"}, id="lower-case-method"),
        pytest.param({"code_challenge": "too-short"}, id="short-challenge"),
        pytest.param({"code_challenge": "A" * 44}, id="long-challenge"),
        pytest.param({"code_challenge": "+/" * 21 + "A"}, id="not-base64url"),
        pytest.param({"code_challenge": "A" * 42 + "="}, id="padded"),
        pytest.param({"state": None}, id="no-state"),
        pytest.param({"state": "x" * 513}, id="huge-state"),
        pytest.param({"state": "line\nbreak"}, id="control-character-in-state"),
    ],
)
def test_missing_or_weak_pkce_and_a_missing_state_are_refused(
    mobile: RunningGateway, overrides: dict[str, str | None]
) -> None:
    """PKCE S256 with a 43-character challenge and a state are required, even for a registered
    redirect URI: the request is refused before anything goes to the IdP."""
    response = httpx.get(
        f"{mobile.url}/auth/authorize", params=AppLogin().authorize_params(**overrides)
    )
    assert_error_page(response)


def test_a_repeated_parameter_is_refused(mobile: RunningGateway) -> None:
    """Which of two redirect_uri values wins would be a parser's whim (RFC 6749 3.1)."""
    params = list(AppLogin().authorize_params().items())
    params.append(("redirect_uri", "https://evil.example/cb"))
    assert_error_page(httpx.get(f"{mobile.url}/auth/authorize", params=params))


def test_the_error_page_never_reflects_the_request(mobile: RunningGateway) -> None:
    params = AppLogin().authorize_params(redirect_uri="<script>alert(1)</script>")
    response = httpx.get(f"{mobile.url}/auth/authorize", params=params)
    assert_error_page(response)
    assert "<script>" not in response.text
    assert "alert" not in response.text


# --- /auth/callback ----------------------------------------------------------------------------


def start_at_idp(
    gateway_url: str, browser: httpx.Client, app: AppLogin
) -> tuple[httpx.Response, str]:
    """authorize in the browser; returns the IdP login redirect and the gateway's IdP state."""
    start = browser.get(f"{gateway_url}/auth/authorize", params=app.authorize_params())
    assert start.status_code == 302
    return start, parse_qs(urlsplit(start.headers["location"]).query)["state"][0]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"code": "x"}, id="no-state"),
        pytest.param({"state": "unknown-" + "s" * 40, "code": "x"}, id="unknown-state"),
        pytest.param({"state": "x" * 600, "code": "x"}, id="huge-state"),
    ],
)
def test_a_callback_without_a_pending_attempt_is_a_page(
    mobile: RunningGateway, params: dict[str, str]
) -> None:
    assert_error_page(httpx.get(f"{mobile.url}/auth/callback", params=params))


def test_a_callback_in_another_browser_is_a_page(
    mobile: RunningGateway, browser: httpx.Client
) -> None:
    """An authorize link started by an attacker cannot be finished in the victim's browser."""
    start, _ = start_at_idp(mobile.url, browser, AppLogin())
    consent = browser.post(start.headers["location"], data={"sub": "alice"})
    with httpx.Client() as other_browser:
        response = other_browser.get(consent.headers["location"])
    assert_error_page(response)
    assert "another browser" in response.text


def test_a_replayed_callback_is_a_page(mobile: RunningGateway, browser: httpx.Client) -> None:
    app = AppLogin()
    start, _ = start_at_idp(mobile.url, browser, app)
    consent = browser.post(start.headers["location"], data={"sub": "alice"})
    app_redirect_query(browser.get(consent.headers["location"]), app)
    assert_error_page(browser.get(consent.headers["location"]))


@pytest.mark.parametrize(
    ("idp_error", "app_error"),
    [
        ("access_denied", "access_denied"),
        ("login_required", "login_required"),
        ("invalid_client", "server_error"),
        ("<script>alert(1)</script>", "server_error"),
    ],
)
def test_an_idp_error_reaches_the_app_sanitised_with_its_state(
    mobile: RunningGateway, browser: httpx.Client, idp_error: str, app_error: str
) -> None:
    """The app learns the login failed (a known OAuth error code, else server_error); no code."""
    app = AppLogin(redirect_uri=CUSTOM_SCHEME_URI)
    _, idp_state = start_at_idp(mobile.url, browser, app)
    response = browser.get(
        f"{mobile.url}/auth/callback",
        params={"state": idp_state, "error": idp_error, "error_description": "<b>hi</b>"},
    )
    assert app_redirect_query(response, app) == {"error": app_error, "state": app.state}


def test_a_foreign_issuer_reaches_the_app_as_server_error(
    mobile: RunningGateway, browser: httpx.Client
) -> None:
    """RFC 9207 mix-up defence: a response naming another issuer gives the app no code."""
    app = AppLogin()
    start, _ = start_at_idp(mobile.url, browser, app)
    consent = browser.post(start.headers["location"], data={"sub": "alice"})
    query = parse_qs(urlsplit(consent.headers["location"]).query)
    response = browser.get(
        f"{mobile.url}/auth/callback",
        params={
            "state": query["state"][0],
            "code": query["code"][0],
            "iss": "https://evil.example",
        },
    )
    assert app_redirect_query(response, app) == {"error": "server_error", "state": app.state}


# --- /auth/token: codes --------------------------------------------------------------------


@ON_EACH_STORE
def test_a_wrong_verifier_is_refused_and_burns_the_code(
    mobile: RunningGateway,
) -> None:
    """A thief holding the code but not the verifier gets nothing, and the code is gone."""
    app = AppLogin()
    code = get_code(mobile.url, app)
    assert_oauth_error(redeem_code(mobile.url, code, secrets.token_urlsafe(48)), "invalid_grant")
    assert_oauth_error(redeem_code(mobile.url, code, app.verifier), "invalid_grant")


def test_a_malformed_verifier_is_an_invalid_request_that_keeps_the_code(
    mobile: RunningGateway,
) -> None:
    app = AppLogin()
    code = get_code(mobile.url, app)
    assert_oauth_error(redeem_code(mobile.url, code, "short"), "invalid_request")
    assert redeem_code(mobile.url, code, app.verifier).status_code == 200


@ON_EACH_STORE
def test_a_replayed_code_is_refused_and_ends_the_session_it_made(
    mobile: RunningGateway, idp: IdpServer
) -> None:
    """RFC 6749 4.1.2: one of two redeemers was a thief, so the first session ends too."""
    app = AppLogin()
    code = get_code(mobile.url, app)
    first = redeem_code(mobile.url, code, app.verifier).json()
    assert get_me(mobile.url, first["access_token"]).status_code == 200

    assert_oauth_error(redeem_code(mobile.url, code, app.verifier), "invalid_grant")
    assert get_me(mobile.url, first["access_token"]).status_code == 401
    assert_oauth_error(refresh(mobile.url, first["refresh_token"]), "invalid_grant")
    assert idp.stats()["revocations"] == 1


@ON_EACH_STORE
def test_an_expired_code_is_refused(mobile: RunningGateway, fake_clock: FakeClock) -> None:
    app = AppLogin()
    code = get_code(mobile.url, app)
    fake_clock.advance(CODE_TTL_S + 1)
    assert_oauth_error(redeem_code(mobile.url, code, app.verifier), "invalid_grant")


def test_a_different_redirect_uri_at_the_token_endpoint_is_refused(
    mobile: RunningGateway,
) -> None:
    app = AppLogin()
    code = get_code(mobile.url, app)
    response = redeem_code(mobile.url, code, app.verifier, redirect_uri=CUSTOM_SCHEME_URI)
    assert_oauth_error(response, "invalid_grant")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param({}, "invalid_request", id="no-grant-type"),
        pytest.param({"grant_type": "password"}, "unsupported_grant_type", id="password-grant"),
        pytest.param(
            {"grant_type": "authorization_code", "code": "c" * 43},
            "invalid_request",
            id="no-verifier",
        ),
        pytest.param(
            {"grant_type": "authorization_code", "code_verifier": "v" * 43},
            "invalid_request",
            id="no-code",
        ),
        pytest.param(
            {"grant_type": "authorization_code", "code": "c" * 43, "code_verifier": "v" * 43},
            "invalid_grant",
            id="unknown-code",
        ),
        pytest.param({"grant_type": "refresh_token"}, "invalid_request", id="no-refresh-token"),
        pytest.param(
            {"grant_type": "refresh_token", "refresh_token": secrets.token_urlsafe(32)},
            "invalid_grant",
            id="unknown-refresh-token",
        ),
        pytest.param(
            {"grant_type": "refresh_token", "refresh_token": "not a token!"},
            "invalid_grant",
            id="malformed-refresh-token",
        ),
    ],
)
def test_token_endpoint_errors_use_the_oauth_format(
    mobile: RunningGateway, data: dict[str, str], error: str
) -> None:
    assert_oauth_error(httpx.post(f"{mobile.url}/auth/token", data=data), error)


def test_the_token_endpoint_takes_only_a_form_with_single_parameters(
    mobile: RunningGateway,
) -> None:
    as_json = httpx.post(f"{mobile.url}/auth/token", json={"grant_type": "refresh_token"})
    assert_oauth_error(as_json, "invalid_request")
    repeated = httpx.post(
        f"{mobile.url}/auth/token",
        content=b"grant_type=refresh_token&grant_type=authorization_code",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_oauth_error(repeated, "invalid_request")


# --- /auth/token: refresh tokens -----------------------------------------------------------


@ON_EACH_STORE
def test_refresh_token_reuse_ends_the_whole_session(mobile: RunningGateway, idp: IdpServer) -> None:
    """A rotated-out refresh token presented again (thief or app) ends the session: even the
    newest tokens stop working, and the IdP refresh token is revoked."""
    first = log_in_app(mobile.url)
    second = refresh(mobile.url, first["refresh_token"]).json()
    assert get_me(mobile.url, second["access_token"]).status_code == 200

    assert_oauth_error(refresh(mobile.url, first["refresh_token"]), "invalid_grant")
    assert get_me(mobile.url, second["access_token"]).status_code == 401
    assert_oauth_error(refresh(mobile.url, second["refresh_token"]), "invalid_grant")
    assert idp.stats()["revocations"] == 1


@ON_EACH_STORE
def test_racing_refreshes_with_one_token_all_get_the_one_successor_pair(
    mobile: RunningGateway,
) -> None:
    """Only one presentation of a refresh token can mint a successor; within the reuse window
    the others get that same pair, which works (never a third, never a dead winner)."""
    tokens = log_in_app(mobile.url)
    with ThreadPoolExecutor(max_workers=5) as pool:
        responses = list(pool.map(lambda _: refresh(mobile.url, tokens["refresh_token"]), range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    pairs = {(r.json()["access_token"], r.json()["refresh_token"]) for r in responses}
    assert len(pairs) == 1
    ((access_token, refresh_token),) = pairs
    assert get_me(mobile.url, access_token).status_code == 200
    assert refresh(mobile.url, refresh_token).status_code == 200


@ON_EACH_STORE
def test_one_kind_of_token_is_not_accepted_as_the_other(
    mobile: RunningGateway,
) -> None:
    tokens = log_in_app(mobile.url)
    assert get_me(mobile.url, tokens["refresh_token"]).status_code == 401
    assert_oauth_error(refresh(mobile.url, tokens["access_token"]), "invalid_grant")
    assert get_me(mobile.url, tokens["access_token"]).status_code == 200


# --- bearer tokens ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer", id="no-token"),
        pytest.param("Basic dXNlcjpwYXNz", id="basic"),
        pytest.param("Bearer not a token", id="spaces"),
        pytest.param("Bearer " + secrets.token_urlsafe(32), id="unknown"),
        pytest.param("Bearer " + "A" * 2000, id="huge"),
        pytest.param("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.", id="unsigned-jwt"),
    ],
)
def test_a_bad_bearer_gets_401_with_www_authenticate(
    mobile: RunningGateway, authorization: str
) -> None:
    response = httpx.get(
        f"{mobile.url}/m/v1/me", headers={"Authorization": authorization, "X-App-Version": "1.0"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_no_bearer_gets_401_with_a_bare_challenge(mobile: RunningGateway) -> None:
    """RFC 6750 3.1: no error code when no credentials were sent."""
    response = httpx.get(f"{mobile.url}/m/v1/me", headers={"X-App-Version": "1.0"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    logout = httpx.post(f"{mobile.url}/auth/logout")
    assert logout.status_code == 401


@ON_EACH_STORE
def test_an_expired_access_token_is_refused_and_a_refresh_brings_a_new_one(
    mobile: RunningGateway, fake_clock: FakeClock
) -> None:
    tokens = log_in_app(mobile.url)
    assert tokens["expires_in"] == ACCESS_TOKEN_TTL_S
    fake_clock.advance(ACCESS_TOKEN_TTL_S + 1)
    expired = get_me(mobile.url, tokens["access_token"])
    assert expired.status_code == 401
    assert expired.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    renewed = refresh(mobile.url, tokens["refresh_token"]).json()
    assert get_me(mobile.url, renewed["access_token"]).status_code == 200


# --- sessions ended elsewhere ----------------------------------------------------------------


def test_a_mobile_session_ended_from_the_web_sessions_list_stops_at_once(
    idp: IdpServer, start_gateway: StartGateway, redis_url: str, browser: httpx.Client
) -> None:
    """Both gateways share the store: the web list shows the app's session and can end it."""
    mobile = start_gateway("mobile", idp_url=idp.url, redis_url=redis_url)
    web = start_gateway("web", idp_url=idp.url, redis_url=redis_url)
    tokens = log_in_app(mobile.url)
    log_in_browser(browser, web.url)

    sessions = browser.get(f"{web.url}/bff/sessions", headers=CSRF).json()
    assert sorted(s["kind"] for s in sessions) == ["mobile", "web"]
    [app_session] = [s for s in sessions if s["kind"] == "mobile"]
    assert not app_session["current"]
    for secret in (tokens["access_token"], tokens["refresh_token"]):
        assert secret not in str(sessions)

    ended = browser.delete(f"{web.url}/bff/sessions/{app_session['id']}", headers=CSRF)
    assert ended.status_code == 204
    assert get_me(mobile.url, tokens["access_token"]).status_code == 401
    assert_oauth_error(refresh(mobile.url, tokens["refresh_token"]), "invalid_grant")
    assert browser.get(f"{web.url}/bff/user", headers=CSRF).status_code == 200


def _logout_token(idp: IdpServer, **claims: str) -> str:
    response = httpx.post(
        f"{idp.url}/_dev/logout-token", json={"client_id": "bff-mobile", **claims}
    )
    response.raise_for_status()
    token: str = response.json()["logout_token"]
    return token


@ON_EACH_STORE
def test_backchannel_logout_by_sub_ends_the_mobile_session(
    mobile: RunningGateway, idp: IdpServer
) -> None:
    tokens = log_in_app(mobile.url)
    other = log_in_app(mobile.url, sub="bob")
    response = httpx.post(
        f"{mobile.url}/auth/backchannel-logout",
        data={"logout_token": _logout_token(idp, sub="alice")},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert get_me(mobile.url, tokens["access_token"]).status_code == 401
    assert_oauth_error(refresh(mobile.url, tokens["refresh_token"]), "invalid_grant")
    assert get_me(mobile.url, other["access_token"]).status_code == 200


def test_backchannel_logout_by_idp_sid_ends_the_mobile_session(
    mobile: RunningGateway, idp: IdpServer
) -> None:
    """The app's session keeps the IdP ``sid`` of its login, so an IdP logout reaches it."""
    tokens = log_in_app(mobile.url)

    async def idp_sid() -> Any:
        [record] = await mobile.identity.sessions.list_for_user("alice")
        return record.idp_sid

    sid = asyncio.run(idp_sid())
    assert sid
    response = httpx.post(
        f"{mobile.url}/auth/backchannel-logout", data={"logout_token": _logout_token(idp, sid=sid)}
    )
    assert response.status_code == 200
    assert get_me(mobile.url, tokens["access_token"]).status_code == 401


def test_backchannel_logout_refuses_a_missing_or_forged_token(mobile: RunningGateway) -> None:
    assert httpx.post(f"{mobile.url}/auth/backchannel-logout", data={}).status_code == 400
    forged = httpx.post(
        f"{mobile.url}/auth/backchannel-logout",
        data={"logout_token": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9."},
    )
    assert forged.status_code == 400


def test_callback_login_for_both_registered_uris_is_unaffected_by_a_rejection(
    mobile: RunningGateway, browser: httpx.Client
) -> None:
    """A refused authorize leaves no state behind that breaks the next good one."""
    httpx.get(
        f"{mobile.url}/auth/authorize",
        params=AppLogin().authorize_params(code_challenge_method="plain"),
    )
    app = AppLogin(redirect_uri=CUSTOM_SCHEME_URI)
    app_redirect_query(browser_login(mobile.url, browser, app), app)
