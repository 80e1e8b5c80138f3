"""Which app requests need a DPoP proof in each ``BFF_MOBILE_DPOP`` mode, and the cases a
gateway only meets after the mode was changed: a binding outlives the mode, and a Bearer
session is not let in where only DPoP is accepted. (The HTTP side is
tests/bff_mobile/test_dpop_tokens.py.)"""

from __future__ import annotations

import pytest

from shared.identity.app_proofs import AppProofs, AppRequest
from shared.identity.dpop import CLOCK_LEEWAY_S, PROOF_MAX_AGE_S, DpopKey
from shared.identity.errors import DpopProofRefused, DpopTokenRefused, GrantRefused, NotSignedIn
from shared.identity.one_time import MemoryOneTimeStore
from shared.platform.crypto import TokenCipher
from shared.platform.settings import MobileDpopMode
from tests.fixtures.clock import FakeClock
from tests.shared.identity.support import OLD_KEY

pytestmark = pytest.mark.anyio

PUBLIC_URL = "https://mobile.example.com"
TOKEN = "an-access-token"


@pytest.fixture(scope="module")
def key() -> DpopKey:
    return DpopKey.generate()


def proofs(mode: MobileDpopMode, clock: FakeClock) -> AppProofs:
    return AppProofs(mode, PUBLIC_URL + "/", MemoryOneTimeStore(TokenCipher(OLD_KEY), clock), clock)


def request(
    key: DpopKey | None,
    clock: FakeClock,
    method: str = "POST",
    path: str = "/auth/token",
    token: str | None = None,
) -> AppRequest:
    sent = (
        ()
        if key is None
        else (key.proof(method, PUBLIC_URL + path, now=clock.time(), access_token=token),)
    )
    return AppRequest(method=method, path=path, proofs=sent)


@pytest.mark.parametrize(
    ("mode", "with_proof", "bound"),
    [
        ("optional", True, True),
        ("optional", False, False),
        ("required", True, True),
        ("off", True, False),
        ("off", False, False),
    ],
)
async def test_what_a_login_is_bound_to(
    mode: MobileDpopMode, with_proof: bool, bound: bool, key: DpopKey, clock: FakeClock
) -> None:
    jkt = await proofs(mode, clock).binding_for_login(request(key if with_proof else None, clock))
    assert jkt == (key.thumbprint if bound else "")


async def test_required_refuses_a_login_without_a_proof(clock: FakeClock) -> None:
    with pytest.raises(DpopProofRefused, match="required"):
        await proofs("required", clock).binding_for_login(request(None, clock))


async def test_a_proof_is_claimed_once_for_as_long_as_it_would_be_accepted(
    key: DpopKey, clock: FakeClock
) -> None:
    checker = proofs("optional", clock)
    sent = request(key, clock)
    await checker.check(sent)
    with pytest.raises(DpopProofRefused, match="already used"):
        await checker.check(sent)
    clock.advance(PROOF_MAX_AGE_S + CLOCK_LEEWAY_S - 1)  # iat is whole seconds: still good
    with pytest.raises(DpopProofRefused, match="already used"):
        await checker.check(sent)


@pytest.mark.parametrize("mode", ["optional", "required", "off"])
async def test_a_binding_outlives_the_mode(
    mode: MobileDpopMode, key: DpopKey, clock: FakeClock
) -> None:
    """A session bound before the mode became ``off`` still needs its key's proof."""
    checker = proofs(mode, clock)
    with pytest.raises(DpopProofRefused):
        await checker.check_refresh(request(None, clock), key.thumbprint)
    with pytest.raises(DpopProofRefused, match="bound to"):
        await checker.check_refresh(request(DpopKey.generate(), clock), key.thumbprint)
    await checker.check_refresh(request(key, clock), key.thumbprint)
    with pytest.raises(DpopTokenRefused):
        await checker.check_resource(request(None, clock), "bearer", TOKEN, key.thumbprint)
    get_me = request(key, clock, "GET", "/m/v1/me", TOKEN)
    await checker.check_resource(get_me, "dpop", TOKEN, key.thumbprint)


async def test_required_lets_no_bearer_session_in(key: DpopKey, clock: FakeClock) -> None:
    """A Bearer session from before the switch: its refresh is invalid_grant (log in again, a
    proof would not help), its access token a DPoP challenge."""
    checker = proofs("required", clock)
    with pytest.raises(GrantRefused, match="log in again"):
        await checker.check_refresh(request(key, clock), "")
    with pytest.raises(DpopTokenRefused):
        await checker.check_resource(request(None, clock, "GET", "/m/v1/me"), "bearer", TOKEN, "")
    refused = checker.token_refused("none sent", credentials_sent=False)
    assert isinstance(refused, DpopTokenRefused)
    assert not refused.credentials_sent


async def test_optional_challenges_a_missing_token_with_bearer_unless_dpop_was_used(
    clock: FakeClock,
) -> None:
    checker = proofs("optional", clock)
    assert type(checker.token_refused("none sent", credentials_sent=False)) is NotSignedIn
    assert type(checker.token_refused("unknown", scheme="dpop")) is DpopTokenRefused
