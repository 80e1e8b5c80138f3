"""Roles read from UserInfo are believed only about the session's own user, and only from a
JSON object. The provider is served by respx, so each defect can be made on purpose (the real
dev IdP is in ``tests/bff_web/test_session_access.py``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from shared.identity.access import RolesSource
from shared.identity.errors import IdpUnavailable, OidcError
from shared.identity.oidc import OidcRelyingParty
from tests.shared.identity.test_oidc import provider
from tests.shared.identity.test_oidc import rp as oidc

USERINFO = RolesSource(("roles",), userinfo=True)

pytestmark = pytest.mark.anyio

__all__ = ["oidc", "provider"]  # fixtures, used by name


async def test_roles_come_from_userinfo_asked_with_the_access_token(
    provider: respx.MockRouter, oidc: OidcRelyingParty
) -> None:
    route = provider.get("/userinfo").respond(json={"sub": "sam", "roles": ["support"]})
    roles = await USERINFO.read(oidc, id_token_claims=None, access_token="AT-1", sub="sam")
    assert roles == {"support"}
    assert route.calls.last.request.headers["authorization"] == "Bearer AT-1"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"sub": "mallory", "roles": ["support"]}),
        httpx.Response(200, json={"roles": ["support"]}),
        httpx.Response(200, json=["support"]),
        httpx.Response(200, content=b"eyJhbGciOi.a-signed.userinfo"),
        httpx.Response(401, json={"error": "invalid_token"}),
    ],
)
async def test_a_userinfo_answer_about_someone_else_or_unreadable_gives_no_roles(
    provider: respx.MockRouter, oidc: OidcRelyingParty, answer: httpx.Response
) -> None:
    provider.get("/userinfo").mock(return_value=answer)
    with pytest.raises(OidcError):
        await USERINFO.read(oidc, id_token_claims=None, access_token="AT", sub="sam")


async def test_an_unreachable_userinfo_is_the_idp_being_unavailable(
    provider: respx.MockRouter, oidc: OidcRelyingParty
) -> None:
    provider.get("/userinfo").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(IdpUnavailable):
        await USERINFO.read(oidc, id_token_claims=None, access_token="AT", sub="sam")


async def test_from_the_id_token_no_provider_call_is_made(oidc: OidcRelyingParty) -> None:
    source = RolesSource(("realm", "roles"))
    claims: dict[str, Any] = {"sub": "x", "realm": {"roles": "a b"}}
    assert await source.read(oidc, id_token_claims=claims, access_token="", sub="x") == {"a", "b"}
    assert await source.read(oidc, id_token_claims=None, access_token="", sub="x") is None


async def test_a_refreshed_id_token_about_someone_else_gives_no_roles(
    oidc: OidcRelyingParty,
) -> None:
    claims = {"sub": "mallory", "roles": ["support"]}
    with pytest.raises(OidcError, match="another user"):
        await RolesSource().read(oidc, id_token_claims=claims, access_token="", sub="sam")
