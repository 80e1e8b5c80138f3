"""The dev IdP's DPoP mode (``--dpop``), as a process: a token request with a proof gets
``DPoP`` tokens bound to its key (``cnf.jkt`` in the JWT access token), a code asked for with
``dpop_jkt`` and a refresh token are redeemed only with that key, a replayed proof is refused,
and UserInfo takes a bound token only with its proof."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.identity.dpop import DpopKey
from tests.devstack.idp_support import REDIRECT_URI, Login, RelyingParty
from tests.fixtures.idp import IdpServer, run_idp


@pytest.fixture(scope="module")
def dpop_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdpServer]:
    with run_idp(Path(tmp_path_factory.mktemp("dpop-idp")), dpop=True) as server:
        yield server


@pytest.fixture
def rp(dpop_idp: IdpServer) -> Iterator[RelyingParty]:
    with httpx.Client() as browser:
        yield RelyingParty(dpop_idp, browser)


def proof_for(rp: RelyingParty, key: DpopKey, endpoint: str, method: str = "POST") -> str:
    return key.proof(method, rp.metadata[endpoint], now=time.time())


def exchange(rp: RelyingParty, login: Login, proof: str | None) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": login.redirect.params["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": login.code_verifier,
    }
    headers = {"DPoP": proof} if proof else {}
    return rp.http.post(
        rp.metadata["token_endpoint"], data=form, headers=headers, auth=(rp.client_id, "s")
    )


def refresh(rp: RelyingParty, refresh_token: str, proof: str | None) -> httpx.Response:
    headers = {"DPoP": proof} if proof else {}
    return rp.http.post(
        rp.metadata["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers=headers,
        auth=(rp.client_id, "s"),
    )


def test_discovery_advertises_dpop(rp: RelyingParty) -> None:
    assert "ES256" in rp.metadata["dpop_signing_alg_values_supported"]


def test_a_proof_binds_the_tokens_to_its_key(rp: RelyingParty) -> None:
    key = DpopKey.generate()
    response = exchange(rp, rp.authorize(), proof_for(rp, key, "token_endpoint"))
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "DPoP"
    claims = rp.verify_jwt(tokens["access_token"]).claims
    assert claims["cnf"] == {"jkt": key.thumbprint}

    other = refresh(
        rp, tokens["refresh_token"], proof_for(rp, DpopKey.generate(), "token_endpoint")
    )
    assert other.status_code == 400
    assert other.json()["error"] == "invalid_grant"
    assert refresh(rp, tokens["refresh_token"], None).json()["error"] == "invalid_dpop_proof"
    renewed = refresh(rp, tokens["refresh_token"], proof_for(rp, key, "token_endpoint"))
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["token_type"] == "DPoP"


def test_without_a_proof_the_tokens_stay_bearer(rp: RelyingParty) -> None:
    response = exchange(rp, rp.authorize(), None)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    assert "cnf" not in rp.verify_jwt(response.json()["access_token"]).claims


def test_a_replayed_or_misdirected_proof_is_refused(rp: RelyingParty) -> None:
    key = DpopKey.generate()
    proof = proof_for(rp, key, "token_endpoint")
    assert exchange(rp, rp.authorize(), proof).status_code == 200
    replayed = exchange(rp, rp.authorize(), proof)
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_dpop_proof"
    elsewhere = exchange(rp, rp.authorize(), proof_for(rp, key, "userinfo_endpoint"))
    assert elsewhere.json()["error"] == "invalid_dpop_proof"


def test_a_code_asked_for_with_dpop_jkt_needs_that_key(rp: RelyingParty) -> None:
    key = DpopKey.generate()
    login = rp.authorize(dpop_jkt=key.thumbprint)
    assert exchange(rp, login, None).json()["error"] == "invalid_dpop_proof"
    wrong = exchange(rp, login, proof_for(rp, DpopKey.generate(), "token_endpoint"))
    assert wrong.json()["error"] == "invalid_grant"
    assert exchange(rp, login, proof_for(rp, key, "token_endpoint")).status_code == 200


def test_userinfo_takes_a_bound_token_only_with_its_proof(rp: RelyingParty) -> None:
    key = DpopKey.generate()
    token = exchange(rp, rp.authorize(), proof_for(rp, key, "token_endpoint")).json()
    access_token, url = token["access_token"], rp.metadata["userinfo_endpoint"]
    as_bearer = rp.http.get(url, headers={"Authorization": f"Bearer {access_token}"})
    assert as_bearer.status_code == 401
    assert as_bearer.headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    thief = DpopKey.generate().proof("GET", url, now=time.time(), access_token=access_token)
    stolen = rp.http.get(url, headers={"Authorization": f"DPoP {access_token}", "DPoP": thief})
    assert stolen.status_code == 401
    good = key.proof("GET", url, now=time.time(), access_token=access_token)
    answer = rp.http.get(url, headers={"Authorization": f"DPoP {access_token}", "DPoP": good})
    assert answer.status_code == 200, answer.text
    assert answer.json()["sub"] == "alice"
