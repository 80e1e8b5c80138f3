"""Client authentication, PAR and DPoP settings: a key that is not EC P-256 or RSA >= 2048 stops
start-up with one line naming its variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from shared.platform.settings import ConfigError, load_settings
from tests.fixtures.client_keys import write_private_key

PRIVATE_KEY_JWT = {"BFF_OIDC_CLIENT_AUTH": "private_key_jwt"}


def test_defaults_are_basic_auth_and_par_when_offered() -> None:
    settings = load_settings("web", {})
    assert settings.oidc_client_auth == "client_secret_basic"
    assert settings.oidc_par == "auto"
    assert settings.oidc_client_key is None
    assert settings.oidc_dpop is False


def test_dpop_is_turned_on_with_true() -> None:
    assert load_settings("mobile", {"BFF_OIDC_DPOP": "true"}).oidc_dpop is True


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_a_good_key_is_read_from_its_file(tmp_path: Path, kind: str) -> None:
    key_file = write_private_key(tmp_path, "ec" if kind == "ec" else "rsa")
    settings = load_settings(
        "mobile",
        {
            **PRIVATE_KEY_JWT,
            "BFF_OIDC_CLIENT_KEY_FILE": str(key_file),
            "BFF_OIDC_CLIENT_KEY_ID": "k-1",
            "BFF_OIDC_PAR": "always",
        },
    )
    assert settings.oidc_client_key == key_file.read_text().strip()
    assert settings.oidc_client_key_id == "k-1"
    assert settings.oidc_par == "always"
    assert "PRIVATE" not in repr(settings)
    assert settings.redacted()["oidc_client_key"] == "<redacted>"


def test_production_needs_no_client_secret_with_a_key(tmp_path: Path) -> None:
    settings = load_settings(
        "web",
        {
            "BFF_ENV": "prod",
            "BFF_PUBLIC_URL": "https://shop.example.com",
            "BFF_OIDC_ISSUER": "https://id.example.com",
            "BFF_SECRET_KEY": "Zq3v9XkP2mW7rT5yB8nL4cF6hJ1dG0sA",
            "BFF_REDIS_URL": "rediss://redis.internal:6379/0",
            **PRIVATE_KEY_JWT,
            "BFF_OIDC_CLIENT_KEY_FILE": str(write_private_key(tmp_path, "ec")),
        },
    )
    assert settings.oidc_client_secret == ""


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"BFF_OIDC_CLIENT_AUTH": "client_secret_jwt"}, "BFF_OIDC_CLIENT_AUTH"),
        ({"BFF_OIDC_PAR": "sometimes"}, "BFF_OIDC_PAR"),
        ({"BFF_OIDC_DPOP": "auto"}, "BFF_OIDC_DPOP"),
        (PRIVATE_KEY_JWT, "BFF_OIDC_CLIENT_KEY_FILE"),
        ({"BFF_OIDC_CLIENT_KEY_FILE": "/nonexistent/key.pem"}, "BFF_OIDC_CLIENT_KEY_FILE"),
        ({"BFF_OIDC_CLIENT_KEY_FILE": "<not a key>"}, "BFF_OIDC_CLIENT_KEY_FILE"),
        ({"BFF_OIDC_CLIENT_KEY_FILE": "<rsa 1024>"}, "BFF_OIDC_CLIENT_KEY_FILE"),
        ({"BFF_OIDC_CLIENT_KEY_FILE": "<ec p-384>"}, "BFF_OIDC_CLIENT_KEY_FILE"),
        ({"BFF_OIDC_CLIENT_KEY_FILE_PREVIOUS": "<rsa 1024>"}, "BFF_OIDC_CLIENT_KEY_FILE_PREVIOUS"),
        ({"BFF_OIDC_CLIENT_KEY_FILE_PREVIOUS": "<ec>"}, "BFF_OIDC_CLIENT_KEY_FILE_PREVIOUS"),
    ],
)
def test_each_bad_client_key_setting_is_one_line_naming_its_variable(
    tmp_path: Path, environ: dict[str, str], variable: str
) -> None:
    files = {
        "<not a key>": _write(tmp_path / "junk.pem", b"-----BEGIN PRIVATE KEY-----\nxx\n"),
        "<rsa 1024>": write_private_key(tmp_path, "rsa", "small.pem", rsa_bits=1024),
        "<ec p-384>": write_private_key(tmp_path, "ec", "p384.pem", curve=ec.SECP384R1()),
        "<ec>": write_private_key(tmp_path, "ec", "ok.pem"),
    }
    resolved = {name: str(files.get(value, value)) for name, value in environ.items()}
    with pytest.raises(ConfigError) as caught:
        load_settings("web", resolved)
    assert caught.value.variable == variable
    assert "\n" not in str(caught.value)


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path
