"""What can go wrong between the gateway and a remote API, before the upstream answers.

An answer the upstream gave (any status) is passed through and is not an error here. These are
the failures to get one; each gateway maps them to problems in one ``ErrorMap``
(``bff_web/errors.py``, ``bff_mobile/errors.py``), whose completeness a test checks::

    RemoteApiError
     ├── RemoteApiUnavailable     refused or reset connection, no answer       -> 503
     │    └── RemoteApiBreakerOpen    the API's breaker is open: nothing sent  -> 503
     ├── RemoteApiTimeout         no answer within the time the call had       -> 504
     ├── RemoteApiBadGateway      TLS failure, or an answer that is not HTTP   -> 502
     └── RemoteApiTokenUnavailable    the gateway's own token could not be had -> 503

``detail`` names the API by its declared name, never its host. ``REMOTE_PROBLEMS`` is the one
translation into problems, the same for both gateways (nothing in it differs by client, unlike
the identity errors' bearer challenges); each registers it with ``problem_handler``.

``RemoteApiCallerGone`` is not one of them: the caller left while its body went up, nobody is
left to answer, and the upstream is not to blame; ``endpoint.py`` ends the request quietly.
"""

from __future__ import annotations

from shared.platform import errors as problems
from shared.platform.problem_map import ErrorMap


class RemoteApiError(Exception):
    """A remote API call failed without an answer from the upstream."""

    def __init__(self, api: str, detail: str) -> None:
        super().__init__(detail)
        self.api = api
        self.detail = detail


class RemoteApiUnavailable(RemoteApiError):
    """The upstream could not be reached (refused, reset, closed before answering)."""


class RemoteApiBreakerOpen(RemoteApiUnavailable):
    """The API's circuit breaker is open: the call failed fast and sent nothing."""


class RemoteApiTimeout(RemoteApiError):
    """The upstream did not answer within the API's timeout or the request's deadline."""


class RemoteApiBadGateway(RemoteApiError):
    """The upstream's TLS was refused, or what came back was not an HTTP answer."""


class RemoteApiTokenUnavailable(RemoteApiError):
    """The gateway's client-credentials token could not be obtained from the IdP."""


class RemoteApiCallerGone(Exception):
    """The caller disconnected while its body was being sent up: the call is abandoned."""


REMOTE_PROBLEMS: ErrorMap[RemoteApiError, problems.GatewayError] = ErrorMap(
    RemoteApiError,
    {
        RemoteApiError: lambda exc: problems.RemoteApiFailed(exc.detail),
        RemoteApiUnavailable: lambda exc: problems.RemoteApiUnavailable(exc.detail),
        RemoteApiBreakerOpen: lambda exc: problems.RemoteApiUnavailable(exc.detail),
        RemoteApiTimeout: lambda exc: problems.RemoteApiTimeout(exc.detail),
        RemoteApiBadGateway: lambda exc: problems.RemoteApiFailed(exc.detail),
        RemoteApiTokenUnavailable: lambda exc: problems.RemoteApiUnavailable(exc.detail),
    },
)
