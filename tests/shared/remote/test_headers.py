"""What crosses the gateway each way: an allow-list up, everything but cookies, challenges and
hop-by-hop headers down."""

from __future__ import annotations

from shared.remote.headers import DEFAULT_FORWARDED, relocated, request_headers, response_headers


def test_only_allowed_headers_go_up_and_never_the_callers_credentials() -> None:
    allowed = DEFAULT_FORWARDED | {"accept-language", "if-none-match"}
    sent = request_headers(
        [
            ("Accept", "application/json"),
            ("Content-Type", "text/plain"),
            ("Accept-Language", "de"),
            ("If-None-Match", '"v1"'),
            ("Cookie", "bff=secret"),
            ("X-CSRF", "1"),
            ("Authorization", "Bearer app-token"),
            ("User-Agent", "Browser"),
            ("Connection", "keep-alive, If-None-Match"),
        ],
        allowed | {"cookie", "authorization", "x-csrf"},  # even if an allow-list said so
    )
    assert sent == [
        ("Accept", "application/json"),
        ("Content-Type", "text/plain"),
        ("Accept-Language", "de"),
    ]


def test_the_answer_loses_cookies_challenges_and_hop_by_hop_headers_only() -> None:
    returned = response_headers(
        [
            ("Content-Type", "application/json"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "X-Internal"),
            ("X-Internal", "node-7"),
            ("WWW-Authenticate", "Bearer"),
            ("Alt-Svc", 'h3=":443"'),
            ("Vary", "Accept"),
            ("Vary", "Accept-Language"),
            ("Cache-Control", "max-age=60"),
        ]
    )
    assert returned == [
        ("Content-Type", "application/json"),
        ("Vary", "Accept"),
        ("Vary", "Accept-Language"),
        ("Cache-Control", "max-age=60"),
    ]


def test_a_location_under_the_upstream_moves_under_the_gateways_path() -> None:
    base, local = "https://reviews.internal:8443/v1", "/api/remote/reviews"
    assert relocated(f"{base}/items/9?x=1", base, local) == "/api/remote/reviews/items/9?x=1"
    assert relocated("/v1/items/9", base, local) == "/api/remote/reviews/items/9"
    assert relocated(base, base, local) == local
    assert relocated("/v10/items", base, local) == "/v10/items"  # not under /v1
    assert relocated("https://elsewhere.example/x", base, local) == "https://elsewhere.example/x"
    returned = response_headers(
        [("Location", f"{base}/items/9"), ("Content-Type", "text/plain")],
        base_url=base,
        local_path=local,
    )
    assert returned == [("Location", "/api/remote/reviews/items/9"), ("Content-Type", "text/plain")]
