"""Remote APIs: any downstream API behind the gateway, declared in ``BFF_REMOTE_APIS_FILE``.

The caller (the SPA, the app) calls the gateway's own origin under the remote prefix; the
gateway checks the caller as it checks a screen's (session, CSRF or app version, the route's
policy), then forwards the rest of the path, the query and the body to the declared upstream
with the right ``Authorization`` — the user's IdP access token, the gateway's own
client-credentials token, or none — and streams the answer back. No token ever reaches the
caller; no cookie, CSRF header or credential of the caller ever reaches the upstream::

    gateway route (bff_web/remote.py, bff_mobile/remote.py)   entry checks, policy, rate
     └── forward_request (endpoint.py)                        path, deadline, which token
          ├── upstream_authorization (authorization.py)       user | client | none
          │    └── ClientTokens (client_tokens.py)            cached, fetched once across
          │                                                   instances
          └── RemoteApi.forward (forwarding.py)               breaker, retries in a budget,
               └── headers.py                                 what crosses, each way

``wiring.py`` builds the ``REMOTE`` state slot in the lifespan; ``errors.py`` is the layer's
own errors, which each gateway maps to problems in its one error map.
"""
