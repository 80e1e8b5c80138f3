"""The server span of every request, ``traceresponse``, and ``http.server.request.duration``.

The span comes from ``ServerSpanMiddleware``, not from opentelemetry-instrumentation-asgi: that
one records ``url.query`` (the ``code`` and ``state`` of the OIDC callback), the client's IP
address and user agent, and costs more per request than the few stable attributes kept here.
The span is named ``{method} {route template}`` once Litestar has routed the request (never the
raw path: ids in span names leak data and explode cardinality), the trace is returned to the
caller in ``traceresponse`` (W3C Trace Context Level 2), and ``http.server.request.duration`` is
recorded with the route template.

Every request passes here, so the per-request path is kept to the SDK's own calls: no
``use_span`` generator, no proxy tracer, no carrier dict unless the caller sent trace context.
"""

from __future__ import annotations

import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from shared.platform import metrics as bff_metrics
from shared.platform.telemetry import bounded_method, server_tracer

__all__ = ["ServerSpanMiddleware"]


class ServerSpanMiddleware:
    """Pure ASGI: the server span, ``traceresponse``, and ``http.server.request.duration``.

    Outermost, so the request-id/access-log middleware and every response (Litestar's own 404s
    included) run inside the span, and access lines carry its trace and span ids.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._propagator = propagate.get_global_textmap()
        self._fields = frozenset(field.encode("latin-1") for field in self._propagator.fields)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = bounded_method(scope["method"])
        span = server_tracer().start_span(method, context=self._parent(scope), kind=SpanKind.SERVER)
        ids = span.get_span_context()
        traceresponse = b"00-%032x-%016x-%02x" % (ids.trace_id, ids.span_id, ids.trace_flags)
        status = 500
        error_type: str | None = None

        async def send_with_traceresponse(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"traceresponse", traceresponse),
                    # the same trace id, for clients that read only this
                    (b"x-trace-id", traceresponse[3:35]),
                ]
            await send(message)

        # What trace.use_span does, without its generator: the status is set by hand below and
        # no exception event is recorded (stack traces stay in the logs).
        in_span = trace.set_span_in_context(span)
        token = otel_context.attach(in_span)
        try:
            await self.app(scope, receive, send_with_traceresponse)
        except BaseException as exc:
            error_type = type(exc).__name__
            raise
        finally:
            route: str | None = scope.get("path_template")
            if error_type is None and status >= 500:
                error_type = str(status)
            attributes: dict[str, AttributeValue] = {
                "http.request.method": method,
                "url.scheme": scope.get("scheme", "http"),
                "http.response.status_code": status,
            }
            if route:
                attributes["http.route"] = route
            if error_type is not None:
                attributes["error.type"] = error_type
            duration = time.perf_counter() - started
            bff_metrics.SERVER_DURATION.record(duration, attributes, in_span)
            if span.is_recording():
                _describe_server_span(span, scope, method, route, attributes, error_type)
            span.end()
            otel_context.detach(token)

    def _parent(self, scope: Scope) -> Context:
        """The caller's trace context (``traceparent``, ``tracestate``) when it sent one; without
        one, a new trace, whatever context the server happens to run in."""
        carrier: dict[str, str] | None = None
        for name, value in scope["headers"]:
            if name in self._fields:
                if carrier is None:
                    carrier = {}
                carrier[name.decode("latin-1")] = value.decode("latin-1")
        return Context() if carrier is None else self._propagator.extract(carrier)


def _describe_server_span(
    span: Span,
    scope: Scope,
    method: str,
    route: str | None,
    attributes: dict[str, AttributeValue],
    error_type: str | None,
) -> None:
    """The stable HTTP server attributes that help an SRE, no more: each one is paid for on
    every sampled request (made, then encoded and exported). The request id is not among them:
    the access log line joins it to the trace id."""
    span.update_name(f"{method} {route}" if route else method)
    described: dict[str, AttributeValue] = {**attributes, "url.path": scope.get("path", "")}
    if method == "_OTHER":
        described["http.request.method_original"] = str(scope.get("method", ""))
    span.set_attributes(described)  # one call: each takes the span's lock
    if error_type is not None:  # only 5xx and exceptions: a 4xx is the caller's problem
        span.set_status(Status(StatusCode.ERROR, error_type))
