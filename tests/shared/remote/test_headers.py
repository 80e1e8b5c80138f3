"""What crosses the gateway each way: an allow-list up, everything but cookies, challenges and
hop-by-hop headers down."""

from __future__ import annotations

from shared.remote.headers import DEFAULT_FORWARDED, request_headers, response_headers


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
