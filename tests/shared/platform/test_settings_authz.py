"""The authorization settings (``BFF_AUTHZ_*``): defaults, parsing, one line per bad value."""

from __future__ import annotations

import pytest

from shared.platform.settings import AuthzSettings, ConfigError, load_settings


def test_the_defaults_are_the_roles_claim_the_support_role_and_ten_minutes() -> None:
    assert load_settings("web", {}).authz == AuthzSettings(
        roles_claim=("roles",),
        roles_source="id_token",
        support_role="support",
        step_up_max_age_s=600,
    )


def test_a_dotted_roles_claim_is_a_path_into_the_id_token() -> None:
    settings = load_settings(
        "mobile",
        {
            "BFF_AUTHZ_ROLES_CLAIM": "realm_access.roles",
            "BFF_AUTHZ_ROLES_SOURCE": "userinfo",
            "BFF_AUTHZ_SUPPORT_ROLE": "helpdesk",
            "BFF_AUTHZ_STEP_UP_MAX_AGE": "120",
        },
    )
    assert settings.authz == AuthzSettings(
        roles_claim=("realm_access", "roles"),
        roles_source="userinfo",
        support_role="helpdesk",
        step_up_max_age_s=120,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BFF_AUTHZ_ROLES_CLAIM", "realm_access..roles"),
        ("BFF_AUTHZ_ROLES_CLAIM", ".roles"),
        ("BFF_AUTHZ_ROLES_CLAIM", "roles claim"),
        ("BFF_AUTHZ_ROLES_SOURCE", "access_token"),
        ("BFF_AUTHZ_SUPPORT_ROLE", "support staff"),
        ("BFF_AUTHZ_STEP_UP_MAX_AGE", "ten minutes"),
        ("BFF_AUTHZ_STEP_UP_MAX_AGE", "-1"),
        ("BFF_AUTHZ_STEP_UP_MAX_AGE", "86401"),
    ],
)
def test_each_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings("web", {variable: value})
    assert str(raised.value).startswith(f"{variable}:")
