"""The identity layer's errors: safe texts, and a hierarchy the gateways' maps must cover."""

from __future__ import annotations

import pytest

from shared.identity.errors import IdentityError, NotSignedIn, OidcError, StepUpRequired


def every_identity_error() -> list[type[IdentityError]]:
    """Every class of the hierarchy, for the gateways' completeness tests."""
    found: list[type[IdentityError]] = [IdentityError]
    pending = list(IdentityError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        found.append(cls)
    return sorted(found, key=lambda cls: cls.__name__)


def an_instance_of(error_class: type[IdentityError]) -> IdentityError:
    """One error of each class, with the arguments its constructor needs."""
    if issubclass(error_class, OidcError):
        return error_class("x")
    if issubclass(error_class, StepUpRequired):
        return error_class(600)
    return error_class()


def test_the_hierarchy_is_what_the_gateways_translate() -> None:
    assert len(every_identity_error()) == 14


@pytest.mark.parametrize("error_class", every_identity_error(), ids=lambda cls: cls.__name__)
def test_every_error_has_a_default_text(error_class: type[IdentityError]) -> None:
    error = an_instance_of(error_class)
    assert error.detail
    assert str(error) == error.detail


def test_not_signed_in_says_whether_credentials_were_sent() -> None:
    assert NotSignedIn().credentials_sent is True
    assert NotSignedIn(credentials_sent=False).credentials_sent is False
