"""The stubs' echo upstream, over a real socket: it answers what it received, shows a bearer
token only as its length, counts a streamed body without keeping it, streams a download of any
size, and keeps only token digests for tests to compare."""

from __future__ import annotations

import httpx

from tests.shared.remote.support import chunks, digest, echo_stats, reset_echo

FIVE_MB = 5 * 1024 * 1024


def test_it_answers_what_it_received_with_the_token_as_its_length(core_stubs: str) -> None:
    reset_echo(core_stubs)
    response = httpx.post(
        f"{core_stubs}/echo/a/b%20c",
        params={"x": "1"},
        content=b"hello",
        headers={"Authorization": "Bearer secret-token", "Accept-Language": "de"},
    )
    assert response.status_code == 200
    assert response.headers["set-cookie"].startswith("echo-session=")
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["path"] == "/echo/a/b%20c"
    assert seen["query"] == "x=1"
    assert seen["bodyLength"] == 5
    assert seen["headers"]["authorization"] == "Bearer <12 characters>"
    assert seen["headers"]["accept-language"] == "de"
    assert "secret-token" not in response.text
    assert echo_stats(core_stubs) == {
        "calls": 1,
        "tokenDigests": [digest("secret-token")],
        "tokenSchemes": ["Bearer"],
    }
    reset_echo(core_stubs)
    assert echo_stats(core_stubs) == {"calls": 0, "tokenDigests": [], "tokenSchemes": []}


def test_a_dpop_token_and_its_proof_are_shown_only_as_lengths(core_stubs: str) -> None:
    reset_echo(core_stubs)
    sent = {"Authorization": "DPoP bound-secret", "DPoP": "header.claims.signature"}
    response = httpx.get(f"{core_stubs}/echo/x", headers=sent)
    seen = response.json()["headers"]
    assert seen["authorization"] == "DPoP <12 characters>"
    assert seen["dpop"] == "<23 characters>"
    assert "bound-secret" not in response.text
    assert "claims" not in response.text
    stats = echo_stats(core_stubs)
    assert stats["tokenDigests"] == [digest("bound-secret")]
    assert stats["tokenSchemes"] == ["DPoP"]


def test_it_counts_a_streamed_upload_and_streams_a_download(core_stubs: str) -> None:
    up = httpx.put(f"{core_stubs}/echo/blob", content=chunks(FIVE_MB))
    assert up.json()["bodyLength"] == FIVE_MB
    with httpx.stream("GET", f"{core_stubs}/echo/blob", params={"download": FIVE_MB}) as down:
        assert down.headers["content-length"] == str(FIVE_MB)
        assert sum(len(chunk) for chunk in down.iter_raw()) == FIVE_MB


def test_it_answers_with_the_status_asked_for(core_stubs: str) -> None:
    response = httpx.delete(f"{core_stubs}/echo", params={"status": "409"})
    assert response.status_code == 409
    assert response.json()["method"] == "DELETE"
