"""Tracing: one trace from the upload request through the job, its stages and a gRPC stage."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from bootstrap.tracing import TraceContextFilter, setup_tracing
from bootstrap.worker import run_analysis_job
from core.adapters.arq_queue import ArqJobQueue
from services.grpc_server import StageServer
from shared.stubs.sentiment import GrpcSentimentAnalyzer
from tests.api.conftest import follow_job
from tests.support.app import wav_bytes
from tests.unit.fakes import FakeSentimentAnalyzer


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    memory = InMemorySpanExporter()
    # Another test may have installed the global provider first: setup_tracing returns it.
    provider = setup_tracing(None, "callytics-test", provider=TracerProvider())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return memory


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    exporter.clear()
    return exporter


@pytest.fixture
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal() as portal:
        yield portal


def named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def test_a_job_its_stages_and_a_grpc_stage_share_one_trace(make_client, portal, spans):
    async def start() -> StageServer:
        server = StageServer("sentiment", FakeSentimentAnalyzer(), host="127.0.0.1", port=0)
        await server.start()
        return server

    server = portal.call(start)
    try:
        client = make_client(sentiment=GrpcSentimentAnalyzer(server.address))
        response = client.post("/v1/calls", files={"file": ("call.wav", wav_bytes(), "audio/wav")})
        assert response.status_code == 202, response.text
        body = response.json()
        assert follow_job(client, body["job_id"])[-1].status == "succeeded"
    finally:
        portal.call(server.stop, 0)

    finished = spans.get_finished_spans()
    [job] = named(finished, "job analyze")
    assert job.attributes is not None
    assert (job.attributes["job.id"], job.attributes["call.id"]) == (
        body["job_id"],
        body["call_id"],
    )
    trace_id = job.context.trace_id

    # The upload request's server span is the job's ancestor (local queue: context kept).
    [request] = [s for s in finished if s.name == "POST /v1/calls" and s.kind == SpanKind.SERVER]
    assert request.context.trace_id == trace_id

    stages = {s.attributes["stage"]: s for s in finished if s.name.startswith("stage ")}
    assert {"diarization", "asr", "sentiment", "embedding", "llm"} <= set(stages)
    for stage in stages.values():
        assert stage.context.trace_id == trace_id
        assert stage.parent is not None and stage.parent.span_id == job.context.span_id
    assert stages["sentiment"].attributes["backend"] == "grpc"
    assert stages["asr"].attributes["backend"] == "local"

    rpc = [s for s in finished if s.attributes and s.attributes.get("rpc.method") == "Analyze"]
    [grpc_client] = [s for s in rpc if s.kind == SpanKind.CLIENT]
    [grpc_server] = [s for s in rpc if s.kind == SpanKind.SERVER]
    assert grpc_client.context.trace_id == grpc_server.context.trace_id == trace_id
    assert grpc_client.parent is not None
    assert grpc_client.parent.span_id == stages["sentiment"].context.span_id
    assert grpc_server.parent is not None
    assert grpc_server.parent.span_id == grpc_client.context.span_id

    # The job's SQL statements are spans of its trace too (SQLAlchemy instrumented).
    sql = [s for s in finished if s.attributes and "db.statement" in s.attributes]
    assert any(s.context.trace_id == trace_id for s in sql), {s.name for s in finished}


class _Pool:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    async def enqueue_job(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))


class _Service:
    def __init__(self) -> None:
        self.trace_ids: list[int] = []

    async def execute(self, job_id: str, *, trace_context: Any = None) -> None:
        with trace.get_tracer("test").start_as_current_span("job", context=trace_context) as span:
            self.trace_ids.append(span.get_span_context().trace_id)


def test_the_arq_job_carries_the_trace_context_to_the_worker(portal, spans):
    queue = ArqJobQueue(service=None, redis_url="redis://unused")  # type: ignore[arg-type]
    queue._pool = _Pool()
    with trace.get_tracer("test").start_as_current_span("request") as request:
        portal.call(queue.enqueue, "job-1")
    [(args, kwargs)] = queue._pool.calls
    assert args[1] == "job-1" and "traceparent" in kwargs["trace_context"]

    service = _Service()
    outcome = portal.call(run_analysis_job, {"service": service}, "job-1", kwargs["trace_context"])
    assert outcome == "succeeded"
    assert service.trace_ids == [request.get_span_context().trace_id]


def test_log_records_carry_the_trace_and_job_ids(spans):
    from core.jobs.service import current_job_id

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    TraceContextFilter().filter(record)
    assert (record.trace_id, record.job_id) == ("-", "-")  # type: ignore[attr-defined]

    token = current_job_id.set("job-7")
    try:
        with trace.get_tracer("test").start_as_current_span("s") as span:
            TraceContextFilter().filter(record)
    finally:
        current_job_id.reset(token)
    assert record.job_id == "job-7"  # type: ignore[attr-defined]
    assert record.trace_id == format(span.get_span_context().trace_id, "032x")  # type: ignore[attr-defined]


def test_requests_are_traced_only_when_spans_leave_the_process(monkeypatch):
    """No exporter: a request's spans would be made and dropped (a quarter of a cached
    read's CPU), so the app is not instrumented; with one, it is, without the per-message
    send/receive spans."""
    from fastapi import FastAPI

    import bootstrap.tracing as tracing

    monkeypatch.setattr(tracing, "_exporting", False)
    quiet = FastAPI()
    assert tracing.instrument_app(quiet) is False
    assert not getattr(quiet, "_is_instrumented_by_opentelemetry", False)

    monkeypatch.setattr(tracing, "_exporting", True)
    traced = FastAPI()
    assert tracing.instrument_app(traced) is True
    assert traced._is_instrumented_by_opentelemetry  # type: ignore[attr-defined]
