"""When a login pushes its authorization request (``BFF_OIDC_PAR``), and the URL the browser
then gets."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from shared.identity.errors import OidcError
from shared.identity.par import browser_url, use_par

ENDPOINT = "https://id.example.test/par"


@pytest.mark.parametrize(
    ("mode", "endpoint", "required", "expected"),
    [
        ("auto", ENDPOINT, False, True),
        ("auto", None, False, False),
        ("always", ENDPOINT, False, True),
        ("never", ENDPOINT, False, False),
        ("never", ENDPOINT, True, False),
    ],
)
def test_when_a_request_is_pushed(
    mode: str, endpoint: str | None, required: bool, expected: bool
) -> None:
    assert use_par(mode, endpoint=endpoint, required=required) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("mode", "required"), [("always", False), ("auto", True)])
def test_a_provider_without_par_is_refused_when_it_is_needed(mode: str, required: bool) -> None:
    with pytest.raises(OidcError):
        use_par(mode, endpoint=None, required=required)  # type: ignore[arg-type]


def test_the_browser_gets_only_the_client_and_the_request_uri() -> None:
    url = browser_url(
        "https://id.example.test/authorize?tenant=a", client_id="bff-web", request_uri="urn:x"
    )
    query = parse_qs(urlsplit(url).query)
    assert query == {"tenant": ["a"], "client_id": ["bff-web"], "request_uri": ["urn:x"]}
