"""OpenTelemetry for both gateways: the process-wide set-up and child spans.

``configure_telemetry`` installs the SDK once per process from the ``OTEL_*`` settings (a tracer
provider with a parent-based sampler and the chosen span exporter; a meter provider feeding
Prometheus, OTLP or the console). OpenTelemetry allows one provider of each per process, so a
second call (a second app in the same process, as in the tests) changes nothing.

Only W3C trace context is propagated (``traceparent``/``tracestate``): ``baggage`` from public
callers is untrusted data we would otherwise forward to every core service.

The server span, ``traceresponse`` and ``http.server.request.duration`` are made by
``shared.platform.server_span.ServerSpanMiddleware``.

``child_span`` makes the spans under it (session load, cache lookups that leave the process,
fan-out, core calls). It
makes nothing when the current span is not recording: with every standard sampler a child of an
unsampled span is unsampled too, so an unsampled request pays almost nothing for tracing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from opentelemetry import metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
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
from opentelemetry.trace import NonRecordingSpan, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue
from prometheus_client import CollectorRegistry

from shared.platform import metrics as bff_metrics
from shared.platform.settings import OtelSettings

__all__ = [
    "TracedTransport",
    "bounded_method",
    "build_sampler",
    "child_span",
    "client_response_attributes",
    "configure_telemetry",
    "current_part",
    "in_part",
    "mark_error",
    "prometheus_registry",
    "safe_url",
    "server_tracer",
    "tracer_provider",
]

_tracer = trace.get_tracer("bff")
"""A proxy until ``configure_telemetry`` installs the SDK provider, then the real tracer."""

_part: ContextVar[str | None] = ContextVar("bff_part", default=None)
"""The fan-out part the current task works for; spans made in it carry ``bff.part``."""

_KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


@dataclass(frozen=True)
class _Installed:
    tracer_provider: TracerProvider
    tracer: trace.Tracer
    """The SDK's tracer for "bff": the server span skips the proxy's indirection."""
    meter_provider: MeterProvider | None
    prometheus: CollectorRegistry | None


_install_lock = threading.Lock()
_installed: _Installed | None = None


# --- set-up ---------------------------------------------------------------------------------


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


def _otlp_endpoint(otel: OtelSettings, signal: str) -> str | None:
    """The OTLP/HTTP exporters want the signal's full URL; gRPC wants the base."""
    if otel.exporter_endpoint is None:
        return None  # the exporter's own default (OTEL_EXPORTER_OTLP_*_ENDPOINT or localhost)
    if otel.exporter_protocol == "grpc":
        return otel.exporter_endpoint
    return f"{otel.exporter_endpoint.rstrip('/')}/v1/{signal}"


def _span_processor(otel: OtelSettings) -> SpanProcessor | None:
    if otel.traces_exporter == "console":
        return BatchSpanProcessor(ConsoleSpanExporter())
    if otel.traces_exporter != "otlp":
        return None
    endpoint = _otlp_endpoint(otel, "traces")
    if otel.exporter_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint))


def _metric_readers(otel: OtelSettings) -> tuple[list[MetricReader], CollectorRegistry | None]:
    readers: list[MetricReader] = []
    registry: CollectorRegistry | None = None
    exporters = otel.metrics_exporters
    if "prometheus" in exporters:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader

        # A registry of our own: only the gateway's instruments, not prometheus_client's
        # process collectors that the default registry would add.
        registry = CollectorRegistry(auto_describe=True)
        # No otel_scope_* labels on every series: all instruments come from one scope ("bff").
        readers.append(PrometheusMetricReader(registry=registry, scope_info_enabled=False))
    if "otlp" in exporters:
        endpoint = _otlp_endpoint(otel, "metrics")
        if otel.exporter_protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
                OTLPMetricExporter,
            )
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint)))
    if "console" in exporters:
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))
    return readers, registry


def configure_telemetry(otel: OtelSettings) -> None:
    """Install the process-wide tracer and meter providers, once (OpenTelemetry allows one)."""
    global _installed
    with _install_lock:
        if _installed is not None:
            return
        resource = Resource.create({"service.name": otel.service_name})
        propagate.set_global_textmap(TraceContextTextMapPropagator())
        provider = TracerProvider(resource=resource, sampler=build_sampler(otel))
        processor = _span_processor(otel)
        if processor is not None:
            provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        readers, registry = _metric_readers(otel)
        meter_provider = None
        if readers:
            # Without a reader the API's no-op instruments stay in place: nothing is aggregated.
            meter_provider = MeterProvider(resource=resource, metric_readers=readers)
            metrics.set_meter_provider(meter_provider)
        # What the proxy _tracer resolves to (the global provider's), without the proxy's hop.
        tracer = trace.get_tracer_provider().get_tracer("bff")
        _installed = _Installed(provider, tracer, meter_provider, registry)


def tracer_provider() -> TracerProvider | None:
    """The installed SDK provider (tests add an in-memory exporter to it), or None."""
    return _installed.tracer_provider if _installed else None


def prometheus_registry() -> CollectorRegistry | None:
    """What ``GET /metrics`` renders; None when Prometheus is not a metrics exporter."""
    return _installed.prometheus if _installed else None


# --- spans under the server span ------------------------------------------------------------


@contextmanager
def in_part(name: str) -> Iterator[None]:
    """Spans made inside carry ``bff.part=name``: which section of the screen they serve.

    An attribute rather than a span per part: a sampled span costs about 80 us to make and
    export (a third of a traced screen's spans were part spans), and the cache lookups and core
    calls of a part already show where its time went.
    """
    token = _part.set(name)
    try:
        yield
    finally:
        _part.reset(token)


def current_part() -> str | None:
    """The section of the screen the running code serves (``in_part``), if any."""
    return _part.get()


def mark_error(span: Span, error_type: str) -> None:
    """Set ``error.type`` and the error status (a no-op on a span that is not recording)."""
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, error_type))


def child_span(
    name: str,
    attributes: Mapping[str, AttributeValue] | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    answers: tuple[type[BaseException], ...] = (),
) -> AbstractContextManager[Span]:
    """A span under the current one, or the current (non-recording) span when it is unsampled.

    An exception leaving the block sets ``error.type`` (its class name; ``cancelled`` for a task
    cut short) and the error status, unless it is one of ``answers``: an expected outcome, such
    as a remembered "not found", that the caller describes with its own attributes. Exceptions
    are not recorded as events: a stack trace in every failed span costs a lot and may carry
    data that must not leave the process.

    Most requests are not sampled, and a cached screen opens a dozen of these: the unsampled
    case is a small object handing back the parent, without a generator.
    """
    parent = trace.get_current_span()
    if not parent.is_recording():
        # Unsampled: the parent is a NonRecordingSpan, on which everything is a no-op. A parent
        # that has ended (a shielded load still running after the lookup that started it gave
        # up) is not recording either, but writing to it would warn: the caller gets a no-op
        # span with the same context instead.
        return _Unsampled(
            parent
            if isinstance(parent, NonRecordingSpan)
            else NonRecordingSpan(parent.get_span_context())
        )
    return _recorded_child(parent, name, attributes, kind, answers)


class _Unsampled(AbstractContextManager[Span]):
    __slots__ = ("_span",)

    def __init__(self, span: Span) -> None:
        self._span = span

    def __enter__(self) -> Span:
        return self._span

    def __exit__(self, *_: object) -> None:
        return None


@contextmanager
def _recorded_child(
    parent: Span,
    name: str,
    attributes: Mapping[str, AttributeValue] | None,
    kind: SpanKind,
    answers: tuple[type[BaseException], ...],
) -> Iterator[Span]:
    span = _tracer.start_span(name, kind=kind, attributes=attributes)
    if not span.get_span_context().is_valid:  # no SDK installed: keep the caller's context
        yield parent
        return
    part = _part.get()
    if part is not None:
        span.set_attribute("bff.part", part)
    with trace.use_span(
        span, end_on_exit=True, record_exception=False, set_status_on_exception=False
    ):
        try:
            yield span
        except asyncio.CancelledError:
            mark_error(span, "cancelled")
            raise
        except Exception as exc:
            if not isinstance(exc, answers):
                mark_error(span, type(exc).__name__)
            raise


# --- shared with the server span -----------------------------------------------------------


def server_tracer() -> trace.Tracer:
    """The tracer for server spans: the SDK's once ``configure_telemetry`` has installed it (what
    the proxy would resolve to, without the proxy's hop on every request), else the proxy."""
    return _installed.tracer if _installed is not None else _tracer


def bounded_method(raw: str) -> str:
    """Known methods as is; anything else as ``_OTHER`` (semantic conventions: bounded values)."""
    return raw if raw in _KNOWN_METHODS else "_OTHER"


# --- client spans for the IdP (and any httpx client that is not a core client) ---------------


class TracedTransport(httpx.AsyncBaseTransport):
    """Wraps an httpx transport: a client span per request (traceparent injected inside it) and
    ``http.client.request.duration``, labelled ``bff.core.service=<upstream>``.

    Used for the identity provider, whose authlib clients share one transport. Core service
    clients make their spans themselves, per attempt, where the retry and breaker are known.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, *, upstream: str) -> None:
        self.inner = inner
        self.upstream = upstream

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        method = bounded_method(request.method)
        base: dict[str, AttributeValue] = {
            "http.request.method": method,
            "server.address": request.url.host,
            "bff.core.service": self.upstream,
        }
        if request.url.port is not None:
            base["server.port"] = request.url.port
        started = time.perf_counter()
        with child_span(
            method, {**base, "url.full": safe_url(str(request.url))}, kind=SpanKind.CLIENT
        ) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            for name, value in carrier.items():
                request.headers[name] = value
            try:
                response = await self.inner.handle_async_request(request)
            except Exception as exc:
                bff_metrics.CLIENT_DURATION.record(
                    time.perf_counter() - started, {**base, "error.type": type(exc).__name__}
                )
                raise
            attributes = {**base, **client_response_attributes(span, response.status_code)}
            bff_metrics.CLIENT_DURATION.record(time.perf_counter() - started, attributes)
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def record_client_attempt(
    span: Span,
    peer: Mapping[str, AttributeValue],
    method: str,
    started: float,
    status: int | None,
    error_type: str | None,
) -> None:
    """One attempt of an upstream call, in its span and in ``http.client.request.duration``
    (labelled with ``peer``: which service or API, its address): the answer's status, or what
    failed instead. ``started`` is a ``time.perf_counter()`` reading."""
    attributes: dict[str, AttributeValue] = {**peer, "http.request.method": method}
    if status is not None:
        attributes.update(client_response_attributes(span, status))
    if error_type is not None:
        attributes["error.type"] = error_type
        mark_error(span, error_type)
    bff_metrics.CLIENT_DURATION.record(time.perf_counter() - started, attributes)


def client_response_attributes(span: Span, status_code: int) -> dict[str, AttributeValue]:
    """Status attributes of a client span and its duration; 4xx and 5xx are errors for a client."""
    attributes: dict[str, AttributeValue] = {"http.response.status_code": status_code}
    span.set_attribute("http.response.status_code", status_code)
    if status_code >= 400:
        attributes["error.type"] = str(status_code)
        mark_error(span, str(status_code))
    return attributes


def safe_url(url: str, personal_segments: Sequence[str] = (), *, base_path: str = "") -> str:
    """``url`` for ``url.full``: no user info, no query values, and the path segment after each
    of ``personal_segments`` (``accounts``, followed by the user's ``sub``) replaced by
    ``{sub}``. ``base_path``, the client's own prefix (``/accounts`` on the dev stubs), is kept."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    path = parts.path
    base_path = base_path.rstrip("/")
    if personal_segments and path.startswith(base_path):
        segments = path[len(base_path) :].split("/")
        for index in range(len(segments) - 1):
            if segments[index] in personal_segments and segments[index + 1]:
                segments[index + 1] = "{sub}"
        path = base_path + "/".join(segments)
    query = "&".join(
        f"{pair.partition('=')[0]}=REDACTED" if "=" in pair else pair
        for pair in parts.query.split("&")
        if pair
    )
    return urlunsplit((parts.scheme, netloc, path, query, ""))
