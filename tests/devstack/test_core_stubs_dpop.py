"""The stubs' DPoP check (RFC 9449 section 7): a token that declares ``cnf.jkt`` is taken only
with the ``DPoP`` scheme and a fresh, unseen proof of that key for this very request; as a
bearer, with another key's proof, a replayed proof, or one for another URL or method, it is
a 401 with a ``DPoP`` challenge."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from devstack.core_stubs import create_stubs_app
from shared.identity.dpop import DpopKey
from tests.fixtures.servers import serve_in_thread

ACCOUNT = "/accounts/v1/accounts/alice"


def bound_token(key: DpopKey) -> str:
    """An access token as the dev IdP makes them in DPoP mode (the stubs read, not verify, it)."""
    claims = {"sub": "alice", "cnf": {"jkt": key.thumbprint}, "iat": int(time.time())}
    return jwt.encode({"alg": "ES256"}, claims, ECKey.generate_key("P-256"))


def dpop_headers(key: DpopKey, token: str, method: str, url: str) -> dict[str, str]:
    proof = key.proof(method, url, now=time.time(), access_token=token)
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


@pytest.fixture(scope="module")
def key() -> DpopKey:
    return DpopKey.generate()


def test_a_good_proof_passes_and_names_its_key(core_stubs: str, key: DpopKey) -> None:
    token, url = bound_token(key), f"{core_stubs}{ACCOUNT}"
    for _ in range(2):  # each request its own proof
        assert httpx.get(url, headers=dpop_headers(key, token, "GET", url)).status_code == 200
    stats = httpx.get(f"{core_stubs}/_stats").json()
    assert stats["lastDpopJkt"]["accounts"] == key.thumbprint
    assert stats["dpopRefusals"] == 0


def _refused(response: httpx.Response, error: str) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith(f'DPoP error="{error}"')


def test_a_bound_token_as_a_bearer_is_refused(core_stubs: str, key: DpopKey) -> None:
    url = f"{core_stubs}{ACCOUNT}"
    _refused(
        httpx.get(url, headers={"Authorization": f"Bearer {bound_token(key)}"}), "invalid_token"
    )


def test_another_keys_proof_is_refused(core_stubs: str, key: DpopKey) -> None:
    token, url = bound_token(key), f"{core_stubs}{ACCOUNT}"
    headers = dpop_headers(DpopKey.generate(), token, "GET", url)
    _refused(httpx.get(url, headers=headers), "invalid_dpop_proof")


def test_a_replayed_proof_is_refused(core_stubs: str, key: DpopKey) -> None:
    token, url = bound_token(key), f"{core_stubs}{ACCOUNT}"
    headers = dpop_headers(key, token, "GET", url)
    assert httpx.get(url, headers=headers).status_code == 200
    _refused(httpx.get(url, headers=headers), "invalid_dpop_proof")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", ACCOUNT), ("GET", "/accounts/v1/accounts/bob")],
    ids=["other-method", "other-url"],
)
def test_a_proof_for_another_request_is_refused(
    core_stubs: str, key: DpopKey, method: str, path: str
) -> None:
    token, url = bound_token(key), f"{core_stubs}{ACCOUNT}"
    headers = dpop_headers(key, token, method, f"{core_stubs}{path}")
    _refused(httpx.get(url, headers=headers), "invalid_dpop_proof")


def test_a_token_without_a_binding_is_not_a_dpop_token(core_stubs: str, key: DpopKey) -> None:
    url = f"{core_stubs}{ACCOUNT}"
    _refused(httpx.get(url, headers=dpop_headers(key, "opaque", "GET", url)), "invalid_token")
    assert httpx.get(url, headers={"Authorization": "Bearer opaque"}).status_code == 200


@pytest.fixture(scope="module")
def nonce_stubs() -> Iterator[str]:
    with serve_in_thread(create_stubs_app(dpop_nonce="stub-nonce-1")) as url:
        yield url


def test_a_server_nonce_is_asked_for_then_accepted(nonce_stubs: str, key: DpopKey) -> None:
    token, url = bound_token(key), f"{nonce_stubs}{ACCOUNT}"
    first = httpx.get(url, headers=dpop_headers(key, token, "GET", url))
    _refused(first, "use_dpop_nonce")
    assert first.headers["dpop-nonce"] == "stub-nonce-1"
    proof = key.proof("GET", url, now=time.time(), access_token=token, nonce="stub-nonce-1")
    again = httpx.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert again.status_code == 200
