"""RFC 9126 pushed authorization requests: ``POST /oauth2/par`` (client authenticated as at the
token endpoint) returns a ``request_uri``; the authorization endpoint then takes the pushed
parameters in place of its query. With ``require_par`` a request without one is refused. In DPoP
mode a proof on the push binds the code to its key (RFC 9449 section 10.1)."""

from __future__ import annotations

from http import HTTPStatus

import flask
from authlib.oauth2 import OAuth2Error
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import ImmutableMultiDict

from devstack.idp.dpop_endpoints import pushed_request_key
from devstack.idp.pushed import PUSHED_REQUEST_LIFETIME_S
from devstack.idp.state import CLIENT_AUTH_METHODS, current_idp

#: Form fields that authenticate the client at the PAR endpoint: not part of the request.
_CLIENT_AUTH_FIELDS = frozenset({"client_secret", "client_assertion", "client_assertion_type"})


def push() -> ResponseReturnValue:
    idp = current_idp()
    jkt = pushed_request_key(idp.dpop) if idp.dpop is not None else None
    if jkt is not None and not isinstance(jkt, str):
        return jkt  # the refusal of a bad proof
    request = idp.server.create_oauth2_request(flask.request)
    try:
        client = idp.server.authenticate_client(request, CLIENT_AUTH_METHODS, endpoint="par")
    except OAuth2Error as error:
        return idp.server.handle_error_response(request, error)  # type: ignore[no-any-return]
    form = flask.request.form
    if "request_uri" in form:
        return _error("invalid_request", "request_uri must not be pushed")
    if form.get("client_id", client.get_client_id()) != client.get_client_id():
        return _error("invalid_request", "client_id does not match the authenticated client")
    params = {k: v for k, v in form.items() if k not in _CLIENT_AUTH_FIELDS}
    params["client_id"] = client.get_client_id()
    if jkt is not None and params.setdefault("dpop_jkt", jkt) != jkt:
        return _error("invalid_dpop_proof", "dpop_jkt is not the key of the DPoP proof")
    request_uri = idp.pushed_requests.push(client.get_client_id(), params)
    return {"request_uri": request_uri, "expires_in": PUSHED_REQUEST_LIFETIME_S}, HTTPStatus.CREATED


def apply_pushed_request() -> ResponseReturnValue | None:
    """Before the mock's authorization view: put a pushed request's parameters in place of the
    query (a response if the ``request_uri`` is unknown, or one is required and missing)."""
    idp = current_idp()
    request_uri = flask.request.args.get("request_uri")
    if request_uri is None:
        if idp.require_par:
            return _error("invalid_request", "this provider requires pushed authorization requests")
        return None
    pushed = idp.pushed_requests.find(request_uri, flask.request.args.get("client_id"))
    if pushed is None:
        return _error("invalid_request_uri", "the request_uri is unknown, expired or used")
    flask.request.args = ImmutableMultiDict(pushed.params)
    flask.request.__dict__.pop("values", None)  # derived from args; rebuilt on next use
    return None


def _error(error: str, description: str) -> ResponseReturnValue:
    return {"error": error, "error_description": description}, HTTPStatus.BAD_REQUEST
