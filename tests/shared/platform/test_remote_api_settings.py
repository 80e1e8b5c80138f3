"""``BFF_REMOTE_APIS_FILE``: what may be declared, and every bad entry refused in one line that
names the variable and the entry, at start-up and by ``bff config check``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.platform.remote_api_settings import RemoteApiSettings
from shared.platform.settings import ConfigError, load_settings
from tests.shared.platform.test_cli import run_bff
from tests.shared.remote.support import remote_apis_file

UPSTREAM = "https://reviews.internal/v1"


def load(tmp_path: Path, *entries: dict[str, Any], gateway: str = "web", **env: str) -> Any:
    environ = {"BFF_REMOTE_APIS_FILE": remote_apis_file(tmp_path, *entries), **env}
    return load_settings(gateway, environ)  # type: ignore[arg-type]


def refusal(tmp_path: Path, *entries: dict[str, Any], gateway: str = "web", **env: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, *entries, gateway=gateway, **env)
    assert caught.value.variable == "BFF_REMOTE_APIS_FILE"
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_issues_example_is_read_with_its_defaults(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {
            "path": "/api/remote/reviews",
            "upstream": UPSTREAM + "/",
            "token": "client",
            "scopes": ["reviews:read"],
            "policy": {"roles": ["reviewer"]},
            "timeout": 5.0,
            "retries": 2,
            "forward_headers": ["Accept-Language", "if-none-match"],
        },
        {"path": "/api/remote/maps/tiles", "upstream": "http://127.0.0.1:9/tiles"},
    )
    reviews, tiles = settings.remote_apis
    assert reviews == RemoteApiSettings(
        name="reviews",
        path="/api/remote/reviews",
        upstream=UPSTREAM,
        token="client",
        client_scopes=("reviews:read",),
        roles=("reviewer",),
        timeout_s=5.0,
        retries=2,
        forward_headers=("accept-language", "if-none-match"),
    )
    assert tiles.name == "maps-tiles"
    assert tiles.token == "user"
    assert (tiles.roles, tiles.scopes, tiles.max_auth_age_s) == ((), (), None)


def test_without_the_variable_there_are_none() -> None:
    assert load_settings("web", {}).remote_apis == ()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"path": "/api/orders", "upstream": UPSTREAM}, "api[1].path: must be /api/remote/"),
        ({"path": "/api/remote/", "upstream": UPSTREAM}, "api[1].path: must be /api/remote/"),
        ({"path": "/api/remote/x/", "upstream": UPSTREAM}, "api[1].path: must be /api/remote/"),
        ({"path": "/api/remote/X", "upstream": UPSTREAM}, "api[1].path: must be /api/remote/"),
        ({"path": "/api/remote/x", "upstream": "ftp://a/b"}, "api[1].upstream: must be"),
        ({"path": "/api/remote/x", "upstream": "https://u:p@a/"}, "api[1].upstream: must not"),
        ({"path": "/api/remote/x", "upstream": "https://a/?q=1"}, "api[1].upstream: must not"),
        (
            {"path": "/api/remote/x", "upstream": UPSTREAM, "token": "app"},
            "api[1].token: Invalid enum value 'app'",
        ),
        (
            {"path": "/api/remote/x", "upstream": UPSTREAM, "scopes": ["a"]},
            'api[1].scopes: is only for token = "client"',
        ),
        ({"path": "/api/remote/x", "upstream": UPSTREAM, "timeout": 0}, "api[1].timeout:"),
        ({"path": "/api/remote/x", "upstream": UPSTREAM, "retries": 9}, "api[1].retries:"),
        (
            {"path": "/api/remote/x", "upstream": UPSTREAM, "forward_headers": ["Cookie"]},
            "api[1].forward_headers: 'cookie' is never forwarded",
        ),
        (
            {"path": "/api/remote/x", "upstream": UPSTREAM, "forward_headers": ["X-CSRF"]},
            "api[1].forward_headers: 'x-csrf' is never forwarded",
        ),
        (
            {"path": "/api/remote/x", "upstream": UPSTREAM, "forward_headers": ["upgrade"]},
            "api[1].forward_headers: 'upgrade' is never forwarded",
        ),
        ({"path": "/api/remote/x", "upstream": UPSTREAM, "colour": "red"}, "api[1]: Object"),
        (
            {"path": "/api/remote/x", "upstream": UPSTREAM, "policy": {"role": ["a"]}},
            "api[1].policy: Object contains unknown field `role`",
        ),
        ({"upstream": UPSTREAM}, "api[1]: Object missing required field `path`"),
    ],
)
def test_a_bad_entry_is_one_line_naming_it(
    tmp_path: Path, entry: dict[str, Any], expected: str
) -> None:
    assert refusal(tmp_path, entry).startswith(f"BFF_REMOTE_APIS_FILE: {expected}")


def test_mobile_apis_live_under_its_own_prefix(tmp_path: Path) -> None:
    web_path = {"path": "/api/remote/x", "upstream": UPSTREAM}
    assert "api[1].path: must be /m/v1/remote/" in refusal(tmp_path, web_path, gateway="mobile")
    mobile = load(tmp_path, {"path": "/m/v1/remote/x", "upstream": UPSTREAM}, gateway="mobile")
    assert mobile.remote_apis[0].path == "/m/v1/remote/x"


def test_overlapping_paths_and_shared_names_are_refused(tmp_path: Path) -> None:
    outer = {"path": "/api/remote/maps", "upstream": UPSTREAM}
    inner = {"path": "/api/remote/maps/tiles", "upstream": UPSTREAM}
    assert "api[2].path: overlaps api[1]'s '/api/remote/maps'" in refusal(tmp_path, outer, inner)
    named = {"path": "/api/remote/b", "upstream": UPSTREAM, "name": "maps"}
    assert "api[2].name: 'maps' is api[1]'s" in refusal(tmp_path, outer, named)


def test_a_file_that_is_missing_or_not_toml_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BFF_REMOTE_APIS_FILE: cannot read"):
        load_settings("web", {"BFF_REMOTE_APIS_FILE": str(tmp_path / "none.toml")})
    broken = tmp_path / "broken.toml"
    broken.write_text("[[api]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"BFF_REMOTE_APIS_FILE: .* is not TOML"):
        load_settings("web", {"BFF_REMOTE_APIS_FILE": str(broken)})


def test_production_refuses_a_plaintext_upstream_off_this_host(tmp_path: Path) -> None:
    """The upstream gets the user's token: https in production, except on loopback (a sidecar)
    or behind a mesh the operator names."""
    prod = {
        "BFF_ENV": "prod",
        "BFF_PUBLIC_URL": "https://shop.example.com",
        "BFF_OIDC_ISSUER": "https://id.example.com",
        "BFF_SECRET_KEY": "Kq7Zt2Wm9Xv4Bn6Lr1Pc8Hs3Jd5Fg0Ya",
        "BFF_OIDC_CLIENT_SECRET": "a-real-client-secret",
        "BFF_POST_LOGOUT_REDIRECT_URL": "https://shop.example.com/",
        "BFF_ALLOW_PLAINTEXT_UPSTREAMS": "true",  # for the core services' defaults
    }
    plain = {"path": "/api/remote/x", "upstream": "http://reviews.internal/v1"}
    assert load(tmp_path, plain, **prod).remote_apis[0].upstream == "http://reviews.internal/v1"
    strict = {**prod, "BFF_ALLOW_PLAINTEXT_UPSTREAMS": "false"}
    for service in ("ACCOUNTS", "CATALOG", "ORDERS", "RECOMMENDATIONS"):
        strict[f"BFF_CORE_{service}_URL"] = f"https://{service.lower()}.internal"
    assert refusal(tmp_path, plain, **strict) == (
        "BFF_REMOTE_APIS_FILE: api[1].upstream: must be https when BFF_ENV=prod "
        "(or BFF_ALLOW_PLAINTEXT_UPSTREAMS=true behind an encrypting mesh)"
    )
    loopback = {"path": "/api/remote/x", "upstream": "http://127.0.0.1:9000"}
    assert load(tmp_path, loopback, **strict).remote_apis[0].upstream == "http://127.0.0.1:9000"


def test_config_check_shows_them_and_refuses_a_bad_one_in_one_line(tmp_path: Path) -> None:
    good = remote_apis_file(tmp_path, {"path": "/api/remote/x", "upstream": UPSTREAM})
    shown = run_bff("config", "check", "web", BFF_REMOTE_APIS_FILE=good)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["remote_apis"][0]["upstream"] == UPSTREAM
    bad = remote_apis_file(tmp_path, {"path": "/api/remote/x", "upstream": "nowhere"})
    for command in (["config", "check", "web"], ["serve", "web", "--port", "0"]):
        result = run_bff(*command, BFF_REMOTE_APIS_FILE=bad)
        assert result.returncode == 2, command
        assert result.stderr.strip().splitlines() == [
            "bff: configuration error: BFF_REMOTE_APIS_FILE: api[1].upstream: "
            "must be an absolute http or https URL, got 'nowhere'"
        ]
