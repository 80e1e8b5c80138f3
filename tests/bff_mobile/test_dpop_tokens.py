"""Sender-constrained app tokens (RFC 9449, ``BFF_MOBILE_DPOP``) over real HTTP: an app that
sends a DPoP proof at code redemption gets ``DPoP`` tokens bound to its key, and every later
call with them (``/m/v1/*``, refresh, logout) needs a fresh proof of that key. A copied token,
a copied proof, a proof of another key, URL or method is a 401 (400 at the token endpoint) with
RFC 9449's challenge. Two gateway instances on one Redis share the replay memory."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import structlog

from shared.identity.dpop import DpopKey
from tests.bff_mobile.test_auth_flow import APP_VERSION, AppLogin, get_code, log_in_app
from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IdpServer

ALGS = 'algs="ES256 PS256 EdDSA RS256"'
BAD_PROOF = f'DPoP error="invalid_dpop_proof", {ALGS}'
BAD_TOKEN = f'DPoP error="invalid_token", {ALGS}'


SHARED_PUBLIC_URL = "http://mobile.test"


@pytest.fixture(scope="module")
def options(idp_server: IdpServer, core_stubs_server: str, redis_server_url: str) -> dict[str, Any]:
    return {
        "idp_url": idp_server.url,
        "stubs_url": core_stubs_server,
        "redis_url": redis_server_url,
    }


@pytest.fixture(scope="module")
def mobile(options: dict[str, Any], start_module_gateway: StartGateway) -> RunningGateway:
    """A mobile gateway in the default mode (``optional``) on Redis, with the core stubs."""
    return start_module_gateway("mobile", **options)


@pytest.fixture(scope="module")
def instances(
    options: dict[str, Any], start_module_gateway: StartGateway
) -> tuple[RunningGateway, RunningGateway]:
    """Two more instances on the same Redis behind one public URL, as behind a load balancer
    (the logins happen on ``mobile``: the IdP could not send a browser to this URL)."""
    shared = {**options, "BFF_PUBLIC_URL": SHARED_PUBLIC_URL}
    return start_module_gateway("mobile", **shared), start_module_gateway("mobile", **shared)


@pytest.fixture(scope="module")
def key() -> DpopKey:
    return DpopKey.generate()


def proof(
    key: DpopKey, method: str, url: str, access_token: str | None = None, now: float | None = None
) -> str:
    return key.proof(
        method, url, now=time.time() if now is None else now, access_token=access_token
    )


def redeem(gateway_url: str, key: DpopKey | None, **headers: str) -> httpx.Response:
    """An app login whose code redemption carries a proof of ``key`` (none for None)."""
    app = AppLogin()
    code = get_code(gateway_url, app)
    if key is not None:
        headers = {"DPoP": proof(key, "POST", f"{gateway_url}/auth/token"), **headers}
    return httpx.post(
        f"{gateway_url}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "code_verifier": app.verifier},
        headers=headers,
    )


def bound_login(gateway_url: str, key: DpopKey) -> dict[str, Any]:
    response = redeem(gateway_url, key)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["token_type"] == "DPoP"
    return body


def refresh(gateway_url: str, refresh_token: str, dpop: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{gateway_url}/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers={} if dpop is None else {"DPoP": dpop},
    )


def call(
    gateway_url: str,
    access_token: str,
    dpop: str | None,
    *,
    path: str = "/m/v1/home",
    scheme: str = "DPoP",
) -> httpx.Response:
    headers = {"Authorization": f"{scheme} {access_token}", **APP_VERSION}
    if dpop is not None:
        headers["DPoP"] = dpop
    return httpx.get(f"{gateway_url}{path}", headers=headers, timeout=20)


def assert_challenge(response: httpx.Response, challenge: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == challenge
    assert response.headers["content-type"].startswith("application/problem+json")


def assert_token_error(response: httpx.Response, error: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error


def test_a_proof_at_login_gives_dpop_tokens_that_work_with_a_proof(
    mobile: RunningGateway, key: DpopKey
) -> None:
    tokens = bound_login(mobile.url, key)
    url = f"{mobile.url}/m/v1/home"
    response = call(
        mobile.url, tokens["access_token"], proof(key, "GET", url, tokens["access_token"])
    )
    assert response.status_code == 200, response.text
    assert response.json()["recommended"]


def _no_proof(key: DpopKey, url: str, token: str) -> str | None:
    return None


def _another_keys_proof(key: DpopKey, url: str, token: str) -> str | None:
    return proof(DpopKey.generate(), "GET", url, token)


def _proof_for_another_url(key: DpopKey, url: str, token: str) -> str | None:
    return proof(key, "GET", url.replace("/m/v1/home", "/m/v1/orders"), token)


def _proof_for_another_method(key: DpopKey, url: str, token: str) -> str | None:
    return proof(key, "POST", url, token)


def _proof_for_another_token(key: DpopKey, url: str, token: str) -> str | None:
    return proof(key, "GET", url, "another-access-token")


def _proof_without_the_token_hash(key: DpopKey, url: str, token: str) -> str | None:
    return proof(key, "GET", url)


def _stale_proof(key: DpopKey, url: str, token: str) -> str | None:
    return proof(key, "GET", url, token, now=time.time() - 600)


def _not_a_proof(key: DpopKey, url: str, token: str) -> str | None:
    return "not-a-jwt"


@pytest.mark.parametrize(
    "make_proof",
    [
        _no_proof,
        _another_keys_proof,
        _proof_for_another_url,
        _proof_for_another_method,
        _proof_for_another_token,
        _proof_without_the_token_hash,
        _stale_proof,
        _not_a_proof,
    ],
    ids=lambda make: make.__name__.strip("_"),
)
def test_a_bound_token_without_a_good_proof_is_refused_and_the_session_lives_on(
    mobile: RunningGateway, key: DpopKey, make_proof: Any
) -> None:
    tokens = bound_login(mobile.url, key)
    token, url = tokens["access_token"], f"{mobile.url}/m/v1/home"
    assert_challenge(call(mobile.url, token, make_proof(key, url, token)), BAD_PROOF)
    assert call(mobile.url, token, proof(key, "GET", url, token)).status_code == 200


def test_a_bound_token_sent_as_bearer_is_refused_even_with_a_proof(
    mobile: RunningGateway, key: DpopKey
) -> None:
    """A copied token replayed by a plain bearer client gets nothing (RFC 9449 7.2)."""
    token, url = bound_login(mobile.url, key)["access_token"], f"{mobile.url}/m/v1/me"
    assert_challenge(call(mobile.url, token, None, path="/m/v1/me", scheme="Bearer"), BAD_TOKEN)
    good = proof(key, "GET", url, token)
    assert_challenge(call(mobile.url, token, good, path="/m/v1/me", scheme="Bearer"), BAD_TOKEN)


def test_a_proof_is_good_once_on_any_instance(
    mobile: RunningGateway, instances: tuple[RunningGateway, RunningGateway], key: DpopKey
) -> None:
    """The second use of one proof is a replay, on the same instance or another one behind the
    same public URL (the replay memory is in the shared Redis)."""
    first, second = instances
    token = bound_login(mobile.url, key)["access_token"]
    once = proof(key, "GET", f"{SHARED_PUBLIC_URL}/m/v1/me", token)
    assert call(first.url, token, once, path="/m/v1/me").status_code == 200
    assert_challenge(call(second.url, token, once, path="/m/v1/me"), BAD_PROOF)
    assert_challenge(call(first.url, token, once, path="/m/v1/me"), BAD_PROOF)
    again = proof(key, "GET", f"{SHARED_PUBLIC_URL}/m/v1/me", token)
    assert call(second.url, token, again, path="/m/v1/me").status_code == 200


def test_an_unbound_token_sent_as_dpop_is_refused(mobile: RunningGateway, key: DpopKey) -> None:
    response = redeem(mobile.url, None)
    assert response.json()["token_type"] == "Bearer"
    token, url = response.json()["access_token"], f"{mobile.url}/m/v1/me"
    assert_challenge(
        call(mobile.url, token, proof(key, "GET", url, token), path="/m/v1/me"), BAD_TOKEN
    )
    assert call(mobile.url, token, None, path="/m/v1/me", scheme="Bearer").status_code == 200


def test_a_refresh_needs_a_proof_of_the_same_key_and_a_refused_one_burns_nothing(
    mobile: RunningGateway, key: DpopKey
) -> None:
    """RFC 9449 5: a public client's refresh token is bound too. A refresh refused for its
    proof is not refresh token reuse: the token and the session stay as they were, for the
    holder of the key."""
    tokens = bound_login(mobile.url, key)
    token_url = f"{mobile.url}/auth/token"
    assert_token_error(refresh(mobile.url, tokens["refresh_token"]), "invalid_dpop_proof")
    thief = proof(DpopKey.generate(), "POST", token_url)
    assert_token_error(refresh(mobile.url, tokens["refresh_token"], thief), "invalid_dpop_proof")
    me_url = f"{mobile.url}/m/v1/me"
    still = call(
        mobile.url,
        tokens["access_token"],
        proof(key, "GET", me_url, tokens["access_token"]),
        path="/m/v1/me",
    )
    assert still.status_code == 200

    renewed = refresh(mobile.url, tokens["refresh_token"], proof(key, "POST", token_url))
    assert renewed.status_code == 200, renewed.text
    pair = renewed.json()
    assert pair["token_type"] == "DPoP"
    fresh = proof(key, "GET", me_url, pair["access_token"])
    assert call(mobile.url, pair["access_token"], fresh, path="/m/v1/me").status_code == 200


def test_logout_needs_the_proof_too(mobile: RunningGateway, key: DpopKey) -> None:
    tokens = bound_login(mobile.url, key)
    token, url = tokens["access_token"], f"{mobile.url}/auth/logout"
    headers = {"Authorization": f"DPoP {token}"}
    assert_challenge(httpx.post(url, headers=headers), BAD_PROOF)
    done = httpx.post(url, headers={**headers, "DPoP": proof(key, "POST", url, token)})
    assert done.status_code == 204, done.text
    me_url = f"{mobile.url}/m/v1/me"
    after = call(mobile.url, token, proof(key, "GET", me_url, token), path="/m/v1/me")
    assert_challenge(after, BAD_TOKEN)
    token_url = f"{mobile.url}/auth/token"
    assert_token_error(
        refresh(mobile.url, tokens["refresh_token"], proof(key, "POST", token_url)),
        "invalid_grant",
    )


def test_a_bad_proof_at_login_is_refused_and_leaves_the_code_for_a_retry(
    mobile: RunningGateway, key: DpopKey
) -> None:
    app = AppLogin()
    code = get_code(mobile.url, app)
    url = f"{mobile.url}/auth/token"
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": app.verifier}
    for bad in (proof(key, "GET", url), proof(key, "POST", f"{mobile.url}/auth/other")):
        assert_token_error(httpx.post(url, data=form, headers={"DPoP": bad}), "invalid_dpop_proof")
    two = [("DPoP", proof(key, "POST", url)), ("DPoP", proof(key, "POST", url))]
    assert_token_error(httpx.post(url, data=form, headers=two), "invalid_dpop_proof")
    good = httpx.post(url, data=form, headers={"DPoP": proof(key, "POST", url)})
    assert good.status_code == 200, good.text
    assert good.json()["token_type"] == "DPoP"


def test_the_proof_names_the_public_url_not_the_host_header(
    mobile: RunningGateway, key: DpopKey
) -> None:
    """A client choosing the Host header does not choose the URL its proof must name."""
    forged_host = {"Host": "evil.example"}
    assert_token_error(
        redeem(
            mobile.url,
            None,
            DPoP=proof(key, "POST", "http://evil.example/auth/token"),
            **forged_host,
        ),
        "invalid_dpop_proof",
    )
    assert redeem(mobile.url, key, **forged_host).json()["token_type"] == "DPoP"


def test_no_proof_or_token_of_the_app_is_ever_logged(mobile: RunningGateway, key: DpopKey) -> None:
    with structlog.testing.capture_logs() as logs:
        tokens = bound_login(mobile.url, key)
        url = f"{mobile.url}/m/v1/me"
        sent = proof(key, "GET", url, tokens["access_token"])
        assert call(mobile.url, tokens["access_token"], sent, path="/m/v1/me").status_code == 200
        assert call(mobile.url, tokens["access_token"], sent, path="/m/v1/me").status_code == 401
    logged = repr(logs)
    for secret in (sent, tokens["access_token"], tokens["refresh_token"]):
        assert secret not in logged


def test_the_openapi_document_names_the_dpop_header(mobile: RunningGateway) -> None:
    paths = httpx.get(f"{mobile.url}/schema/openapi.json").json()["paths"]
    for path, method in (("/m/v1/home", "get"), ("/auth/token", "post"), ("/auth/logout", "post")):
        headers = {
            p["name"].lower()
            for p in paths[path][method].get("parameters", [])
            if p["in"] == "header"
        }
        assert "dpop" in headers, path


# --- the other modes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict(idp_server: IdpServer, start_module_gateway: StartGateway) -> RunningGateway:
    return start_module_gateway("mobile", idp_url=idp_server.url, BFF_MOBILE_DPOP="required")


@pytest.fixture(scope="module")
def bearer_only(idp_server: IdpServer, start_module_gateway: StartGateway) -> RunningGateway:
    return start_module_gateway("mobile", idp_url=idp_server.url, BFF_MOBILE_DPOP="off")


def test_required_refuses_a_login_without_a_proof_and_any_bearer_token(
    strict: RunningGateway, key: DpopKey
) -> None:
    assert_token_error(redeem(strict.url, None), "invalid_dpop_proof")
    tokens = bound_login(strict.url, key)
    me_url = f"{strict.url}/m/v1/me"
    assert_challenge(
        call(strict.url, tokens["access_token"], None, path="/m/v1/me", scheme="Bearer"), BAD_TOKEN
    )
    no_token = httpx.get(me_url, headers=APP_VERSION)
    assert_challenge(no_token, f"DPoP {ALGS}")
    fresh = proof(key, "GET", me_url, tokens["access_token"])
    assert call(strict.url, tokens["access_token"], fresh, path="/m/v1/me").status_code == 200


def test_off_ignores_the_header_and_issues_bearer_tokens(
    bearer_only: RunningGateway, key: DpopKey
) -> None:
    response = redeem(bearer_only.url, key)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    token = response.json()["access_token"]
    assert call(bearer_only.url, token, None, path="/m/v1/me", scheme="Bearer").status_code == 200
    dpop = proof(key, "GET", f"{bearer_only.url}/m/v1/me", token)
    assert_challenge(call(bearer_only.url, token, dpop, path="/m/v1/me"), BAD_TOKEN)


def test_a_bearer_app_keeps_working_in_the_default_mode(mobile: RunningGateway) -> None:
    """``optional``: an app that sends no proof is the Bearer app it was before."""
    tokens = log_in_app(mobile.url)
    assert tokens["token_type"] == "Bearer"
    response = call(mobile.url, tokens["access_token"], None, path="/m/v1/me", scheme="Bearer")
    assert response.status_code == 200
    assert_token_error(
        refresh(mobile.url, tokens["refresh_token"], "not-a-jwt"), "invalid_dpop_proof"
    )
    assert refresh(mobile.url, tokens["refresh_token"]).json()["token_type"] == "Bearer"
