"""The development OpenID provider: ``oidc-provider-mock`` (Flask + authlib), extended.

The gateways must be tested against a real provider, not one written for them, so this package
only wraps the mock; it swaps in subclasses of the mock's authlib grants and wraps a few of its
Flask views. What it adds, and why:

* refresh-token rotation: a refresh returns a new refresh token and the old one stops working
  at once (the old one is claimed atomically, so two racing refreshes cannot both succeed);
  refreshed access tokens get the same short lifetime as the first ones;
* PKCE with ``S256`` is required and verified (the gateways always send it; a gateway that
  stops doing so fails its tests instead of passing against a lax IdP);
* ``POST /oauth2/revoke``: RFC 7009 revocation (authlib's ``RevocationEndpoint``);
* RFC 9207: every redirect from the authorization endpoint carries ``iss``;
* IdP login sessions: a login sets a cookie naming the session; the ID token carries its ``sid``,
  and a second login from the same browser (for example, the other gateway) joins it;
* OIDC Back-Channel Logout 1.0: ending a session at ``end_session_endpoint`` POSTs a signed
  logout token to every configured client that took part in it. A valid ``id_token_hint`` ends
  the session at once and redirects to ``post_logout_redirect_uri``; without one, the mock's
  confirmation page is shown;
* RFC 9126 pushed authorization requests: ``POST /oauth2/par`` (advertised in discovery with
  ``--par``; with ``--require-par`` the authorization endpoint takes nothing else);
* ``private_key_jwt`` (RFC 7523) for clients registered with ``--client-jwks-uri`` (or a
  ``jwks`` document given to ``create_idp_app``): ``aud`` must be the issuer, each ``jti`` is
  accepted once, and such a client cannot fall back to a secret;
* DPoP (RFC 9449) with ``--dpop`` (``--require-dpop``, ``--dpop-nonce``): a token request
  with a proof gets ``token_type: DPoP`` tokens bound to its key (JWT access tokens with
  ``cnf.jkt``), ``dpop_jkt`` binds a code, UserInfo takes a bound token only with its proof,
  and ``/_stats`` lists the proofs judged (``dpop_proofs``);
* test helpers: ``POST /_dev/logout-token`` and call counters (token requests by grant,
  revocations, UserInfo requests, accepted client assertions) at ``GET``/``DELETE /_stats``;
* no werkzeug debugger (the mock enables it; it would run code for anyone who can reach it).

Any other client id and secret are accepted (the mock's default). The seeded users are ``alice``
and ``support`` (whose ``roles`` claim is ``["support"]``). ``prompt=login``, or a ``max_age``
older than the browser's IdP login, make a login a new authentication: the ID token's
``auth_time`` is then the time of that login.

The issuer is the origin a request is addressed to (the mock builds it from the scheme and
``Host`` header). Discovery, ID tokens, the ``iss`` response parameter and logout tokens all use
it, so a gateway must reach the IdP by the same origin as its users' browsers do: exactly the
``BFF_OIDC_ISSUER`` it is configured with (``http://127.0.0.1:9400`` in ``bff dev``).

This builds on the mock's internals (its grant classes, storage and view names), so it is tied
to ``oidc-provider-mock`` 0.3.x. The mock and authlib ship no type information, so subclassing
their classes needs a ``type: ignore[misc]`` each.

One module per job::

    mock         the mock, imported once with its import-time deprecation warnings silenced
    state        what the extensions share per app (DevIdp), found through the Flask app
    sessions     the IdP's login sessions, which ``sid`` names and logout ends
    grants       code grant bound to the login session, sid in ID tokens, PKCE S256, rotation
    revocation   RFC 7009 over the mock's storage
    client_auth  private_key_jwt for registered clients
    pushed       pushed requests and used assertion ids, kept for a short while
    par          the PAR endpoint and its use at the authorization endpoint
    dpop         DPoP mode: token bindings, proof checks with replay memory, the nonce
    dpop_endpoints  where the endpoints take proofs; JWT access tokens with cnf.jkt
    logout       logout tokens and the back-channel logout sender
    views        the mock's views, wrapped: discovery, token, end-session; RFC 9207 ``iss``
    routes       what the mock lacks: ``/oauth2/revoke``, ``/oauth2/par``, ``/_dev/logout-token``,
                 ``/_stats``
    app          the app factory, create_idp_app
    process      ``python -m devstack.idp``: options and the server
"""

from devstack.idp.app import SUPPORT_USER, TEST_USER, create_idp_app
from devstack.idp.process import main

__all__ = ["SUPPORT_USER", "TEST_USER", "create_idp_app", "main"]
