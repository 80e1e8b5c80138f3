"""The web gateway as a FAPI 2.0 client with DPoP (``BFF_OIDC_DPOP``): a login with PAR,
``private_key_jwt`` and a session key of its own, the screens calling the core stubs with
``DPoP`` tokens and proofs of that key, a refresh and a logout with revocation that prove it
too; the IdP's nonce dance; and the key is never in a log line."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from structlog.testing import capture_logs

from shared.identity.dpop import DpopKey
from tests.fixtures.client_keys import start_key_client, write_private_key
from tests.fixtures.clock import FakeClock
from tests.fixtures.gateways import StartGateway, log_in_browser, stored_tokens
from tests.fixtures.idp import IdpServer, StartIdp
from tests.shared.remote.support import digest, echo_stats, remote_apis_file, reset_echo

CSRF = {"X-CSRF": "1"}
TOKEN_LIFETIME_S = 4  # refreshed in its last 2 s
FAPI_IDP = {"require_dpop": True}


def stub_stats(stubs_url: str) -> dict[str, Any]:
    response = httpx.get(f"{stubs_url}/_stats")
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def proofs(idp: IdpServer, endpoint: str) -> list[dict[str, Any]]:
    return [p for p in idp.stats()["dpop_proofs"] if p["endpoint"] == endpoint]


def session_jkt(redis_url: str, sub: str = "alice") -> str:
    tokens = stored_tokens(redis_url, sub)
    assert tokens.token_type == "DPoP"
    return DpopKey.from_pem(tokens.dpop_key).thumbprint


def test_login_screen_refresh_and_logout_prove_the_session_key(
    start_idp: StartIdp,
    start_gateway: StartGateway,
    core_stubs: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """PAR + private_key_jwt + DPoP: every IdP step and every core call proves one key, the
    session's own, which the stubs and the IdP both saw."""
    clock = FakeClock()
    setup = start_key_client(
        start_idp,
        start_gateway,
        "web",
        write_private_key(tmp_path, "ec"),
        require_par=True,
        token_max_age=TOKEN_LIFETIME_S,
        idp_options=FAPI_IDP,
        stubs_url=core_stubs,
        redis_url=redis_url,
        clock=clock,
        BFF_OIDC_DPOP="true",
    )
    web, idp = setup.gateway, setup.idp
    with httpx.Client(timeout=20, headers=CSRF) as browser:
        start = browser.get(f"{web.url}/bff/login")
        assert set(parse_qs(urlsplit(start.headers["location"]).query)) == {
            "client_id",
            "request_uri",
        }
        consent = browser.post(start.headers["location"], data={"sub": "alice"})
        assert consent.status_code == 302, consent.text
        assert browser.get(consent.headers["location"]).status_code == 302
        jkt = session_jkt(redis_url)
        # The pushed request and the code exchange, each with a proof of the session's key.
        assert [p["jkt"] for p in proofs(idp, "par")] == [jkt]
        assert [p["jkt"] for p in proofs(idp, "token")] == [jkt]

        assert browser.get(f"{web.url}/api/home").status_code == 200
        seen = stub_stats(core_stubs)["lastDpopJkt"]
        assert seen["accounts"] == jkt
        assert seen["orders"] == jkt

        idp.reset_stats()
        clock.advance(TOKEN_LIFETIME_S / 2 + 0.3)  # inside the refresh window
        assert browser.get(f"{web.url}/api/home").status_code == 200
        assert idp.stats()["token_requests"]["refresh_token"] == 1
        assert [p["jkt"] for p in proofs(idp, "token")] == [jkt]
        assert session_jkt(redis_url) == jkt  # the key outlives its tokens

        idp.reset_stats()
        logout_url = browser.get(f"{web.url}/bff/user").json()["logoutUrl"]
        assert browser.get(f"{web.url}{logout_url}").status_code == 302
    assert idp.stats()["revocations"] == 1
    assert [p["jkt"] for p in proofs(idp, "revocation")] == [jkt]


def test_each_session_has_its_own_key(
    start_idp: StartIdp, start_gateway: StartGateway, redis_url: str
) -> None:
    idp = start_idp(require_dpop=True)
    web = start_gateway("web", idp_url=idp.url, redis_url=redis_url, BFF_OIDC_DPOP="true")
    keys = set()
    for sub in ("dpop-first", "dpop-second"):
        with httpx.Client(timeout=20) as browser:
            assert log_in_browser(browser, web.url, sub=sub).status_code == 302
        keys.add(session_jkt(redis_url, sub))
    assert len(keys) == 2


def test_the_idp_nonce_dance(
    start_idp: StartIdp, start_gateway: StartGateway, core_stubs: str, redis_url: str
) -> None:
    """An IdP that requires a nonce answers the first proof with ``use_dpop_nonce``; the login
    still works, the second proof carrying the nonce; later steps send it at once."""
    idp = start_idp(require_dpop=True, dpop_nonce=True)
    web = start_gateway(
        "web",
        idp_url=idp.url,
        stubs_url=core_stubs,
        redis_url=redis_url,
        BFF_OIDC_DPOP="true",
        BFF_OIDC_PAR="never",
    )
    with httpx.Client(timeout=20, headers=CSRF) as browser:
        assert log_in_browser(browser, web.url, sub="dpop-nonce").status_code == 302
        assert browser.get(f"{web.url}/bff/user").status_code == 200
        token_proofs = proofs(idp, "token")
        assert [(p["nonce"], p["accepted"]) for p in token_proofs] == [
            (False, False),
            (True, True),
        ]
        idp.reset_stats()
        assert log_in_browser(browser, web.url, sub="dpop-nonce").status_code == 302
        assert [(p["nonce"], p["accepted"]) for p in proofs(idp, "token")] == [(True, True)]


def test_a_stolen_idp_token_is_useless_as_a_bearer(
    start_idp: StartIdp, start_gateway: StartGateway, core_stubs: str, redis_url: str
) -> None:
    """A DPoP-bound access token copied out of a session: the stubs refuse it as a bearer,
    and with a proof of another key; the IdP's UserInfo refuses it as a bearer too."""
    idp = start_idp(require_dpop=True)
    web = start_gateway(
        "web", idp_url=idp.url, stubs_url=core_stubs, redis_url=redis_url, BFF_OIDC_DPOP="true"
    )
    with httpx.Client(timeout=20) as browser:
        assert log_in_browser(browser, web.url, sub="dpop-stolen").status_code == 302
    stolen = stored_tokens(redis_url, "dpop-stolen").access_token
    url = f"{core_stubs}/accounts/v1/accounts/dpop-stolen"
    as_bearer = httpx.get(url, headers={"Authorization": f"Bearer {stolen}"})
    assert as_bearer.status_code == 401
    assert as_bearer.headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    thief = DpopKey.generate()
    headers = {
        "Authorization": f"DPoP {stolen}",
        "DPoP": thief.proof("GET", url, now=FakeClock().time(), access_token=stolen),
    }
    with_other_key = httpx.get(url, headers=headers)
    assert with_other_key.status_code == 401
    assert 'error="invalid_dpop_proof"' in with_other_key.headers["www-authenticate"]
    userinfo = httpx.get(f"{idp.url}/userinfo", headers={"Authorization": f"Bearer {stolen}"})
    assert userinfo.status_code == 401


@pytest.mark.parametrize("stage", ["login", "screen"])
def test_the_session_key_is_never_logged(
    start_idp: StartIdp,
    start_gateway: StartGateway,
    core_stubs: str,
    redis_url: str,
    stage: str,
) -> None:
    idp = start_idp(require_dpop=True)
    web = start_gateway(
        "web",
        idp_url=idp.url,
        stubs_url=core_stubs,
        redis_url=redis_url,
        BFF_OIDC_DPOP="true",
        BFF_LOG_LEVEL="debug",
    )
    sub = f"dpop-log-{stage}"
    with capture_logs() as logs, httpx.Client(timeout=20, headers=CSRF) as browser:
        assert log_in_browser(browser, web.url, sub=sub).status_code == 302
        if stage == "screen":
            assert browser.get(f"{web.url}/api/home").status_code == 200
    tokens = stored_tokens(redis_url, sub)
    key = DpopKey.from_pem(tokens.dpop_key)
    private_d = str(key.key.as_dict(private=True)["d"])
    text = repr(logs)
    assert logs
    for secret in (tokens.dpop_key.decode(), private_d, tokens.access_token):
        assert secret not in text
    assert "PRIVATE KEY" not in text


def test_a_remote_api_gets_the_bound_token_with_a_proof(
    start_idp: StartIdp,
    start_gateway: StartGateway,
    core_stubs: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """A declared remote API is called as the core services are: ``DPoP <token>`` and a proof,
    never the bound token as a bearer."""
    idp = start_idp(require_dpop=True)
    apis = remote_apis_file(
        tmp_path, {"path": "/api/remote/echo", "upstream": f"{core_stubs}/echo"}
    )
    web = start_gateway(
        "web",
        idp_url=idp.url,
        stubs_url=core_stubs,
        redis_url=redis_url,
        BFF_OIDC_DPOP="true",
        BFF_REMOTE_APIS_FILE=apis,
    )
    reset_echo(core_stubs)
    with httpx.Client(timeout=20, headers=CSRF) as browser:
        assert log_in_browser(browser, web.url, sub="dpop-remote").status_code == 302
        response = browser.get(f"{web.url}/api/remote/echo/reviews")
    assert response.status_code == 200, response.text
    tokens = stored_tokens(redis_url, "dpop-remote")
    seen = response.json()["headers"]
    assert seen["authorization"] == f"DPoP <{len(tokens.access_token)} characters>"
    assert "dpop" in seen
    stats = echo_stats(core_stubs)
    assert stats["tokenSchemes"] == ["DPoP"]
    assert stats["tokenDigests"] == [digest(tokens.access_token)]
