"""Logout at the dev IdP: signed back-channel logout tokens on request (``/_dev/logout-token``),
and RP-initiated logout, with and without an ID token hint, telling each client of the session."""

from __future__ import annotations

import httpx
import pytest

from tests.devstack.idp_support import (
    BACKCHANNEL_LOGOUT_EVENT,
    CLIENT_ID,
    LogoutReceiver,
    RelyingParty,
    browser,
    logout_receiver,
    rp,
)
from tests.fixtures.idp import StartIdp

__all__ = ["browser", "logout_receiver", "rp"]  # fixtures, used by name


def test_dev_logout_token_is_a_signed_back_channel_logout_token(rp: RelyingParty) -> None:
    """POST /_dev/logout-token gives a logout token signed with the IdP's JWKS key, typed
    logout+jwt, with iss, aud, iat, exp, jti, the logout event, sub and sid, and no nonce."""
    response = rp.http.post(
        f"{rp.idp.url}/_dev/logout-token",
        json={"client_id": CLIENT_ID, "sub": "alice", "sid": "s1"},
    )
    assert response.status_code == 200

    token = rp.verify_jwt(
        response.json()["logout_token"],
        aud={"essential": True, "value": CLIENT_ID},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
        sub={"essential": True, "value": "alice"},
        sid={"essential": True, "value": "s1"},
    )
    assert token.claims["events"] == {BACKCHANNEL_LOGOUT_EVENT: {}}
    assert token.header["typ"] == "logout+jwt"
    assert token.header["kid"]
    assert "nonce" not in token.claims


@pytest.mark.parametrize(
    "body",
    [{"sub": "alice"}, {"client_id": CLIENT_ID}, {"client_id": CLIENT_ID, "sid": 7}, ["x"]],
)
def test_dev_logout_token_needs_a_client_and_a_subject_or_session(
    rp: RelyingParty, body: object
) -> None:
    """Without client_id, or without sub or sid (as strings), the helper answers 400."""
    assert rp.http.post(f"{rp.idp.url}/_dev/logout-token", json=body).status_code == 400


def test_logout_with_id_token_hint_tells_each_client_of_the_session_and_redirects(
    start_idp: StartIdp, browser: httpx.Client, logout_receiver: LogoutReceiver
) -> None:
    """Two clients logged in from one browser share the IdP session's sid. RP-initiated logout
    with the ID token as hint POSTs a signed logout token for that sid to both clients'
    back-channel URIs (not to a configured client outside the session), then redirects to
    post_logout_redirect_uri with state. The next login starts a new session."""
    idp = start_idp(
        backchannel_logout_uris={
            "bff-web": f"{logout_receiver.url}/web",
            "bff-mobile": f"{logout_receiver.url}/mobile",
            "bff-other": f"{logout_receiver.url}/other",
        }
    )
    web = RelyingParty(idp, browser, client_id="bff-web")
    mobile = RelyingParty(idp, browser, client_id="bff-mobile")
    web_login, web_tokens = web.log_in()
    mobile_login, mobile_tokens = mobile.log_in()
    sid = web.verify_id_token(web_tokens["id_token"], web_login).claims["sid"]
    assert mobile.verify_id_token(mobile_tokens["id_token"], mobile_login).claims["sid"] == sid

    response = browser.get(
        web.metadata["end_session_endpoint"],
        params={
            "id_token_hint": web_tokens["id_token"],
            "post_logout_redirect_uri": "http://127.0.0.1:8000/logged-out",
            "state": "after-logout",
        },
    )

    assert response.status_code == 302
    assert response.headers["location"] == "http://127.0.0.1:8000/logged-out?state=after-logout"
    assert sorted(path for path, _ in logout_receiver.deliveries) == ["/mobile", "/web"]
    for path, logout_token in logout_receiver.deliveries:
        token = web.verify_jwt(
            logout_token,
            aud={"essential": True, "value": "bff-" + path.removeprefix("/")},
            iat={"essential": True},
            exp={"essential": True},
            jti={"essential": True},
            sid={"essential": True, "value": sid},
            sub={"essential": True, "value": "alice"},
        )
        assert token.claims["events"] == {BACKCHANNEL_LOGOUT_EVENT: {}}
        assert token.header["typ"] == "logout+jwt"
        assert "nonce" not in token.claims

    next_login, next_tokens = web.log_in()
    assert web.verify_id_token(next_tokens["id_token"], next_login).claims["sid"] != sid


def test_logout_without_hint_asks_first_then_ends_the_browser_session(
    start_idp: StartIdp, browser: httpx.Client, logout_receiver: LogoutReceiver
) -> None:
    """Without id_token_hint the IdP shows its confirmation page and nothing happens yet;
    confirming ends this browser's session, with a back-channel logout for it."""
    idp = start_idp(backchannel_logout_uris={"bff-web": f"{logout_receiver.url}/web"})
    web = RelyingParty(idp, browser, client_id="bff-web")
    login, tokens = web.log_in()
    sid = web.verify_id_token(tokens["id_token"], login).claims["sid"]

    page = browser.get(web.metadata["end_session_endpoint"])
    assert page.status_code == 200
    assert "<form" in page.text
    assert logout_receiver.deliveries == []

    assert browser.post(f"{idp.url}/oauth2/end_session/confirm").status_code == 200
    [(path, logout_token)] = logout_receiver.deliveries
    assert path == "/web"
    web.verify_jwt(logout_token, sid={"essential": True, "value": sid})
