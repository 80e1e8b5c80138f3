"""The mock's own views, wrapped: discovery advertises what is added here, the token and UserInfo
endpoints are counted, end-session ends the login session (with back-channel logout), and every
redirect from the authorization endpoint carries ``iss`` (RFC 9207)."""

from __future__ import annotations

from typing import cast

import flask
from authlib.common.urls import add_params_to_uri
from flask.typing import ResponseReturnValue

from devstack.dev_users import dev_user
from devstack.idp.client_auth import ASSERTION_ALGORITHMS
from devstack.idp.dpop_endpoints import checked_resource_request, token_with_dpop
from devstack.idp.logout import end_login_session, verify_id_token_hint
from devstack.idp.mock import MOCK_BLUEPRINT, oidc_provider_mock
from devstack.idp.par import apply_pushed_request
from devstack.idp.state import (
    CLIENT_AUTH_METHODS,
    SESSION_SID_KEY,
    MockView,
    current_idp,
    request_issuer,
)
from shared.identity.dpop import PROOF_ALGORITHMS


def discovery() -> ResponseReturnValue:
    """The mock's discovery document plus the features added here."""
    response = current_idp().mock_views["openid_config"]()
    metadata = cast(flask.Response, response).get_json()
    metadata.update(
        {
            "revocation_endpoint": flask.url_for("dev-idp.revoke", _external=True),
            "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        }
    )
    if current_idp().advertise_par:
        metadata["pushed_authorization_request_endpoint"] = flask.url_for(
            "dev-idp.par", _external=True
        )
        metadata["require_pushed_authorization_requests"] = current_idp().require_par
    if current_idp().dpop is not None:
        metadata["dpop_signing_alg_values_supported"] = list(PROOF_ALGORITHMS)
    return flask.jsonify(metadata)


def token() -> ResponseReturnValue:
    """The mock's token endpoint, counted (attempts, whether or not they succeed). The mock's
    view serves the grants it knows; the client-credentials grant it lacks is served here, by
    authlib's own token endpoint flow."""
    idp = current_idp()
    grant_type = flask.request.form.get("grant_type")
    if grant_type:
        idp.stats.count_token_request(grant_type)
    if grant_type == "client_credentials":
        return cast(ResponseReturnValue, idp.server.create_token_response())
    if idp.dpop is not None:
        return token_with_dpop(idp.dpop, idp.mock_views["issue_token"])
    return idp.mock_views["issue_token"]()


def userinfo() -> ResponseReturnValue:
    """The mock's UserInfo endpoint, counted; in DPoP mode a bound token needs its proof."""
    idp = current_idp()
    idp.stats.count_userinfo_request()
    refused = checked_resource_request(idp.dpop, "userinfo") if idp.dpop is not None else None
    if refused is not None:
        return refused
    return idp.mock_views["userinfo"]()


def end_session() -> ResponseReturnValue:
    """RP-initiated logout. A valid ``id_token_hint`` proves which client asks and which
    session to end, so the session ends without a confirmation page; anything else gets the
    mock's page, whose button ends the browser's session (see ``end_session_confirm``)."""
    idp = current_idp()
    hint = flask.request.values.get("id_token_hint")
    claims = verify_id_token_hint(idp, hint) if hint else None
    if claims is None:
        return idp.mock_views["end_session"]()

    sid = claims.get("sid")
    if isinstance(sid, str):
        if flask.session.get(SESSION_SID_KEY) == sid:
            flask.session.pop(SESSION_SID_KEY)
        end_login_session(idp, sid)

    redirect_uri = flask.request.values.get("post_logout_redirect_uri")
    if not redirect_uri:
        return flask.render_template("end_session_confirm.html", session_ended=True)
    state = flask.request.values.get("state")
    if state is not None:
        redirect_uri = add_params_to_uri(redirect_uri, [("state", state)])
    return flask.redirect(redirect_uri)


def authorize() -> ResponseReturnValue:
    """The mock's login form. A subject it does not know yet gets the claims
    ``devstack.dev_users`` derives for it (the mock would give it an email only), so the name in
    its ID token is the accounts stub's display name for it too.

    A pushed request (``request_uri``) stands in for the query, and is used up by the code it
    leads to."""
    idp = current_idp()
    request_uri = flask.request.args.get("request_uri")
    refused = apply_pushed_request()
    if refused is not None:
        return refused
    sub = flask.request.form.get("sub") if flask.request.method == "POST" else None
    if sub and idp.storage.get_user(sub) is None:
        idp.storage.store_user(oidc_provider_mock.User(sub=sub, claims=dev_user(sub).claims()))
    response = idp.mock_views["authorize"]()
    if request_uri and isinstance(response, flask.Response) and response.status_code == 302:
        idp.pushed_requests.used(request_uri)
    return response


def end_session_confirm() -> ResponseReturnValue:
    """The mock's confirmation button: ends the login session this browser holds."""
    idp = current_idp()
    sid = flask.session.pop(SESSION_SID_KEY, None)
    if isinstance(sid, str):
        end_login_session(idp, sid)
    return idp.mock_views["end_session_confirm"]()


#: The wrapper for each of the mock's views, by the mock's view name; each wrapper reaches the
#: original through ``DevIdp.mock_views`` under the same name.
MOCK_VIEW_WRAPPERS: dict[str, MockView] = {
    "openid_config": discovery,
    "authorize": authorize,
    "issue_token": token,
    "userinfo": userinfo,
    "end_session": end_session,
    "end_session_confirm": end_session_confirm,
}


def add_issuer_to_authorization_response(response: flask.Response) -> flask.Response:
    """RFC 9207: every redirect back from the authorization endpoint, errors included, says
    which issuer sent it. The mock builds these responses itself, outside authlib's hook."""
    if flask.request.endpoint == f"{MOCK_BLUEPRINT}.authorize" and response.location:
        response.location = add_params_to_uri(response.location, [("iss", request_issuer())])
    return response
