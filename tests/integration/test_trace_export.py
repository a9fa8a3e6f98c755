"""One job, one trace, across two processes, over the network (OTLP/gRPC).

An OTLP trace receiver runs inside the test. The test process and a real
`callytics stage sentiment` subprocess both export their spans to it; the job analysed here
uses the remote sentiment stage. The job span, its `stage sentiment` span, the gRPC client
span (this process) and the stage server's span (the subprocess) must share one trace id,
with the server span the child of the client span.

No sleeps: this process's spans are exported synchronously (SimpleSpanProcessor); the
stage's BatchSpanProcessor flushes when its provider shuts down at exit (SIGTERM, then the
test waits for the process to end), and the receiver answers each Export before it returns.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from bootstrap.container import build_container
from bootstrap.settings import Settings
from bootstrap.tracing import setup_tracing
from samples import load_script, render_call
from tests.support.processes import StageProcess, child_env, free_port

pytestmark = pytest.mark.slow

STAGE_SERVICE = "callytics-stage-sentiment"


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: int  # the OTLP enum (Span.SPAN_KIND_*), not opentelemetry.trace.SpanKind
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """Keeps every span exported to it; ``arrived`` is set once ``service`` has sent one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[ReceivedSpan] = []
        self.services: dict[str, threading.Event] = {}

    def event(self, service: str) -> threading.Event:
        with self.lock:
            return self.services.setdefault(service, threading.Event())

    def Export(self, request: Any, context: Any) -> Any:
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            service = resource.get(SERVICE_NAME, "")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {
                        a.key: getattr(a.value, a.value.WhichOneof("value") or "string_value")
                        for a in span.attributes
                    }
                    received.append(
                        ReceivedSpan(
                            service=service,
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes=attributes,
                        )
                    )
        with self.lock:
            self.spans.extend(received)
        for span in received:
            self.event(span.service).set()
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    servicer = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    assert port, "no port for the OTLP receiver"
    server.start()
    try:
        yield servicer, f"http://127.0.0.1:{port}"
    finally:
        server.stop(0).wait()


class Switch(SpanProcessor):
    """Forwards to ``inner`` until switched off: the global provider outlives this test and
    keeps no span processor that exports to a receiver which is gone."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner: SpanProcessor | None = inner

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self.inner is not None:
            self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self.inner is not None:
            self.inner.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis) if self.inner is not None else True

    def off(self) -> None:
        inner, self.inner = self.inner, None
        if inner is not None:
            inner.shutdown()


@pytest.fixture
def exporting(receiver) -> Iterator[str]:
    """This process exports its spans, synchronously, to the receiver; its service name."""
    _, endpoint = receiver
    # Another test may have installed the global provider first: setup_tracing returns it.
    provider = setup_tracing(
        None,
        "callytics-trace-test",
        provider=TracerProvider(resource=Resource.create({SERVICE_NAME: "callytics-trace-test"})),
    )
    switch = Switch(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=10)))
    provider.add_span_processor(switch)
    try:
        yield str(provider.resource.attributes[SERVICE_NAME])
    finally:
        switch.off()


async def test_one_job_is_one_trace_across_the_test_process_and_a_stage_process(
    tmp_path: Path, receiver, exporting: str
) -> None:
    spans, endpoint = receiver
    assert exporting != STAGE_SERVICE
    call = tmp_path / "call.wav"
    render_call(load_script("short"), call, layout="stereo")

    port = free_port()
    stage = StageProcess(
        "sentiment",
        port,
        # No periodic export (10 min): the stage's spans reach the receiver only if its
        # shutdown path flushes them.
        child_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_BSP_SCHEDULE_DELAY="600000"),
        tmp_path / "sentiment.log",
    )
    try:
        container = build_container(
            Settings(  # type: ignore[call-arg]
                _env_file=None,
                database_url=f"sqlite:///{tmp_path}/trace.db",
                storage_dir=tmp_path / "audio",
                asr_model="tiny.en",
                llm_provider="rules",
                job_retry_delay_s=0,
                use_sentiment_ms=True,
                sentiment_grpc_target=stage.address,
                grpc_ready_timeout_s=180,
            )
        )
        container.database().upgrade()
        document = await container.analysis().analyze_file(call)
        assert document["stages"]["sentiment"]["backend"] == "grpc"
    finally:
        stage.stop()  # SIGTERM: graceful; its provider flushes its spans at exit
    assert stage.proc.returncode == 0, stage.log()
    # Every span of the stage was exported before it exited, and answered: no waiting left.
    assert spans.event(STAGE_SERVICE).is_set(), f"no spans from the stage:\n{stage.log()}"

    with spans.lock:
        received = list(spans.spans)
    mine = [s for s in received if s.service == exporting]
    theirs = [s for s in received if s.service == STAGE_SERVICE]
    assert mine and theirs, {s.service for s in received}

    [job] = [s for s in mine if s.name == "job analyze"]
    [sentiment] = [s for s in mine if s.name == "stage sentiment" and s.trace_id == job.trace_id]
    assert sentiment.parent_span_id == job.span_id
    assert sentiment.attributes.get("backend") == "grpc"

    clients = [
        s
        for s in mine
        if s.kind == Span.SPAN_KIND_CLIENT
        and s.trace_id == job.trace_id
        and s.parent_span_id == sentiment.span_id
    ]
    assert clients, [(s.name, s.kind, s.parent_span_id) for s in mine]
    servers = [s for s in theirs if s.kind == Span.SPAN_KIND_SERVER]
    assert servers, [(s.name, s.kind) for s in theirs]
    for server in servers:
        assert server.trace_id == job.trace_id
        assert server.parent_span_id in {c.span_id for c in clients}
    # Each client call the stage answered has its server span there.
    analyze = [c for c in clients if c.attributes.get("rpc.method") == "Analyze"]
    assert analyze, [(c.name, c.attributes) for c in clients]
    assert {c.span_id for c in analyze} <= {s.parent_span_id for s in servers}
