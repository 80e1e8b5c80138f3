"""The routes the mock does not have: RFC 7009 revocation, RFC 9126 PAR, and the test helpers
``POST /_dev/logout-token`` and ``GET``/``DELETE /_stats``."""

from __future__ import annotations

from http import HTTPStatus
from typing import cast

import flask
from flask.typing import ResponseReturnValue

from devstack.idp.dpop_endpoints import revocation_proof
from devstack.idp.logout import make_logout_token
from devstack.idp.par import push
from devstack.idp.state import current_idp, request_issuer

blueprint = flask.Blueprint("dev-idp", __name__)


@blueprint.post("/oauth2/revoke")
def revoke() -> ResponseReturnValue:
    """RFC 7009 token revocation."""
    idp = current_idp()
    idp.stats.count_revocation()
    refused = revocation_proof(idp.dpop) if idp.dpop is not None else None
    if refused is not None:
        return refused
    return cast(ResponseReturnValue, idp.server.create_endpoint_response("revocation"))


@blueprint.post("/oauth2/par")
def par() -> ResponseReturnValue:
    """RFC 9126 pushed authorization request."""
    return push()


@blueprint.post("/_dev/logout-token")
def dev_logout_token() -> ResponseReturnValue:
    """``{client_id, sub?, sid?}`` -> ``{"logout_token": ...}`` signed with the IdP's key, so a
    test can deliver a logout token itself."""
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        return {"error": "expected a JSON object"}, HTTPStatus.BAD_REQUEST
    client_id, sub, sid = body.get("client_id"), body.get("sub"), body.get("sid")
    if not isinstance(client_id, str) or not client_id:
        return {"error": "client_id (a string) is required"}, HTTPStatus.BAD_REQUEST
    if not all(value is None or isinstance(value, str) for value in (sub, sid)) or not (sub or sid):
        return {"error": "sub or sid (strings) is required"}, HTTPStatus.BAD_REQUEST
    token = make_logout_token(
        current_idp(), issuer=request_issuer(), client_id=client_id, sub=sub, sid=sid
    )
    return {"logout_token": token}


@blueprint.get("/_stats")
def get_stats() -> ResponseReturnValue:
    return current_idp().stats_json()


@blueprint.delete("/_stats")
def reset_stats() -> ResponseReturnValue:
    current_idp().reset_stats()
    return "", HTTPStatus.NO_CONTENT
