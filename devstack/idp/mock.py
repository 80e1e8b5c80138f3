"""The mock, imported in one place, so its import-time warnings are silenced wherever the dev IdP
is first imported."""

import warnings

from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    # The mock imports authlib.jose and authlib's httpx integration, which authlib deprecates
    # with a warning at import. Only the mock can act on it; here it would be noise on every
    # start, and an error wherever warnings are errors (the test suite).
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    import oidc_provider_mock
    from oidc_provider_mock import _app as mock_app
    from oidc_provider_mock import _storage as mock_storage

#: The mock's blueprint name, the prefix of its endpoint names.
MOCK_BLUEPRINT = "oidc-provider-mock"

__all__ = ["MOCK_BLUEPRINT", "mock_app", "mock_storage", "oidc_provider_mock"]
