"""Who the user is: OIDC relying party, sessions, IdP tokens, login, mobile tokens.

Imports only ``shared.platform`` (and ``shared.cache`` if it must)."""
