"""OpenTelemetry set-up shared by both gateways.

The SDK is configured once per process from the ``OTEL_*`` settings. The server span of each
request comes from the OpenTelemetry ASGI middleware; once Litestar has routed the request, the
span is renamed ``{method} {route template}`` (never the raw path, which would explode the
cardinality of span names and leak ids), and ``http.route`` is set.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from litestar.types import ASGIApp, Scope
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

from shared.settings import OtelSettings

_configured_lock = threading.Lock()
_configured = False


def build_sampler(otel: OtelSettings) -> Sampler:
    ratio = TraceIdRatioBased(otel.sampler_ratio)
    samplers: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": ratio,
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBased(ratio),
    }
    return samplers[otel.sampler]


def _span_processor(otel: OtelSettings) -> SpanProcessor | None:
    if otel.traces_exporter == "console":
        return BatchSpanProcessor(ConsoleSpanExporter())
    if otel.traces_exporter == "otlp":
        if otel.exporter_protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
                OTLPSpanExporter,
            )
        return BatchSpanProcessor(OTLPSpanExporter())
    return None


def configure_tracing(otel: OtelSettings) -> None:
    """Install the process-wide tracer provider once (OpenTelemetry allows only one)."""
    global _configured
    with _configured_lock:
        if _configured:
            return
        os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
        provider = TracerProvider(
            resource=Resource.create({"service.name": otel.service_name}),
            sampler=build_sampler(otel),
        )
        processor = _span_processor(otel)
        if processor is not None:
            provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _configured = True


def _initial_span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    # The route is not known before routing; the name is fixed up by name_server_span().
    return str(scope.get("method", "HTTP")), {}


def server_span_middleware(app: ASGIApp) -> ASGIApp:
    middleware: ASGIApp = OpenTelemetryMiddleware(  # type: ignore[assignment]
        app,
        default_span_details=_initial_span_details,
        exclude_spans=["receive", "send"],
    )
    return middleware


def name_server_span(scope: Scope) -> None:
    """Rename the current server span to ``{method} {route template}`` once routing is done."""
    template = scope.get("path_template")
    span = trace.get_current_span()
    if not span.is_recording() or not template:
        return
    span.update_name(f"{scope.get('method', 'HTTP')} {template}")
    span.set_attribute("http.route", template)
