"""OpenTelemetry tracing: one trace per job, from the API through the queue to the stages.

:func:`setup_tracing` is called by the serve app's start-up, ``callytics worker`` and
``callytics stage`` (never at import). It installs the global tracer provider, with the
resource ``service.name`` and, when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, an OTLP/gRPC
exporter (no endpoint: spans are made, kept in-process and dropped; nothing goes over the
network). ``core`` uses only the OpenTelemetry API (``opentelemetry.trace``), so without a
provider its spans are no-ops.

Spans: ``job <kind>`` (job.id, call.id) with a ``stage <name>`` child per stage (stage,
backend); a remote stage's gRPC client span and the stage server's span below that. The
trace context crosses gRPC in the metadata (the grpc instrumentation's interceptors) and
arq in the job's ``trace_context`` keyword (W3C ``traceparent``).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from typing import Any

from opentelemetry import trace

log = logging.getLogger(__name__)

_lock = threading.Lock()
_provider: Any = None
_exporting = False  # whether spans leave the process (an exporter, or a provider given)
_instrumented: set[int] = set()  # apps (FastAPI instrumentation)


def setup_tracing(settings: Any, service_name: str, *, provider: Any = None) -> Any:
    """Install (once) and return the global SDK tracer provider.

    ``provider`` (tests: one with an ``InMemorySpanExporter``) is used instead of building
    one. Idempotent: a second call returns the provider already installed.
    """
    global _provider, _exporting
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    with _lock:
        # a caller's provider (tests: an in-memory exporter) or an endpoint: spans are kept
        _exporting |= provider is not None or bool(
            getattr(settings, "otel_exporter_otlp_endpoint", None)
        )
        if _provider is not None:
            return _provider
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):  # someone else installed one first
            _provider = current
            return _provider
        if provider is None:
            provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
            endpoint = getattr(settings, "otel_exporter_otlp_endpoint", None)
            if endpoint:
                from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                    OTLPSpanExporter,
                )
                from opentelemetry.sdk.trace.export import BatchSpanProcessor

                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
                log.info("tracing: %s exports spans to %s", service_name, endpoint)
        trace.set_tracer_provider(provider)
        _provider = provider
        return _provider


def instrument_app(app: Any) -> bool:
    """Server spans for the HTTP requests (not /metrics nor the health probes), when spans
    leave the process; returns whether the app is instrumented.

    With no exporter every span would be made and dropped, and a request's spans (the
    server span and one per ASGI message) cost a quarter of a cached read's CPU
    (docs/performance.md), so requests are not traced; jobs and stages still are (one trace
    per job, its id in the log lines). When exporting, the per-message ``http send`` and
    ``http receive`` spans are left out, and ``OTEL_TRACES_SAMPLER`` /
    ``OTEL_TRACES_SAMPLER_ARG`` (read by the SDK) sample requests.
    """
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    if id(app) in _instrumented:
        return True
    if not _exporting:
        return False
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls="metrics,health",
        tracer_provider=_provider,
        exclude_spans=["send", "receive"],
    )
    _instrumented.add(id(app))
    return True


def instrument_database(database: Any) -> None:
    """Spans for the SQL statements of one :class:`core.persistence.database.Database`,
    when spans leave the process (see :func:`instrument_app`).

    The engine gets its own ``EngineTracer`` (the instrumentation's per-engine listener):
    ``SQLAlchemyInstrumentor().instrument()`` is a once-per-process singleton, which would
    leave every engine after the first one untraced."""
    from opentelemetry.instrumentation.sqlalchemy import __name__ as scope
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    engine = database.engine
    if getattr(engine, "_callytics_traced", False) or not _exporting:
        return  # no exporter: every statement's span would be made and dropped
    usage = get_meter(scope).create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(trace.get_tracer(scope, tracer_provider=_provider), engine, usage)
    engine._callytics_traced = True


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id`` and ``job_id`` to every record ("-" when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else "-"
        jobs = sys.modules.get("core.jobs.service")  # not imported (a stage server): no job here
        record.job_id = (jobs.current_job_id.get() if jobs else None) or "-"
        return True


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [trace=%(trace_id)s job=%(job_id)s] %(message)s"


def install_log_filter(level: int | None = None) -> None:
    """Put :class:`TraceContextFilter` and :data:`LOG_FORMAT` on the root logger's handlers."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    if level is not None:
        root.setLevel(level)
    for handler in root.handlers:
        if not any(isinstance(f, TraceContextFilter) for f in handler.filters):
            handler.addFilter(TraceContextFilter())
        handler.setFormatter(logging.Formatter(LOG_FORMAT))


# Query parameters whose values are credentials, wherever a client puts them.
CREDENTIAL_PARAMS = re.compile(
    r"([?&](?:api[_-]?key|apikey|key|token|access[_-]?token|jwt|authorization|password|"
    r"secret)=)[^&#\s]*",
    re.IGNORECASE,
)


def strip_credentials(path: str) -> str:
    """``path`` with the value of every credential-like query parameter replaced by ***."""
    return CREDENTIAL_PARAMS.sub(r"\1***", path)


class AccessLogRedaction(logging.Filter):
    """uvicorn's access log line without credentials a client put in the query string
    (the API reads none from there, but a misconfigured client may send them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = strip_credentials(str(args[2]))
            record.args = tuple(args)
        return True


def install_access_log_redaction() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogRedaction) for f in access.filters):
        access.addFilter(AccessLogRedaction())
