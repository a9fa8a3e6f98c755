"""GET /metrics: HTTP, job, stage, cache and gRPC metrics after real jobs through the API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from api.cli import prepare_multiprocess_metrics
from bootstrap.prometheus import MULTIPROC_ENV
from services.grpc_server import StageServer
from shared.stubs.sentiment import GrpcSentimentAnalyzer
from tests.api.conftest import follow_job
from tests.support.app import wav_bytes
from tests.unit.fakes import FakeDiarizer, FakeSentimentAnalyzer

STAGES = ("diarization", "asr", "sentiment", "embedding", "llm")


def run_job(client: Any) -> dict[str, Any]:
    file = ("call.wav", wav_bytes(), "audio/wav")
    response = client.post("/v1/calls", files={"file": file})
    assert response.status_code == 202, response.text
    events = follow_job(client, response.json()["job_id"])
    assert events[-1].status == "succeeded", events[-1]
    return response.json()


def scrape(client: Any) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    return response.text, samples


def sample(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_metrics_after_a_job_through_the_api(client):
    body = run_job(client)
    assert client.get(f"/v1/calls/{body['call_id']}").status_code == 200
    assert client.get("/v1/nowhere").status_code == 404

    text, samples = scrape(client)

    assert 'callytics_jobs_total{kind="analyze",outcome="succeeded"} 1.0' in text
    assert sample(samples, "callytics_job_duration_seconds_count", kind="analyze") == 1
    for stage in STAGES:
        count = sample(
            samples, "callytics_stage_duration_seconds_count", stage=stage, backend="local"
        )
        assert count == 1, stage
    assert sample(samples, "callytics_audio_seconds_total") == pytest.approx(2.0, abs=0.01)
    route = "/v1/calls/{call_id}"
    assert sample(samples, "callytics_http_requests_total", method="GET", route=route, status="200")
    assert sample(
        samples, "callytics_http_requests_total", method="POST", route="/v1/calls", status="202"
    )
    assert sample(
        samples, "callytics_http_requests_total", method="GET", route="unmatched", status="404"
    )
    assert sample(
        samples, "callytics_http_request_duration_seconds_count", method="GET", route=route
    )
    # The embedding and the LLM analysis go through the cache: one miss per tier at least.
    assert (
        sample(samples, "callytics_cache_requests_total", tier="memory", result="miss") or 0
    ) > 0
    assert (
        sample(samples, "callytics_cache_requests_total", tier="memory", result="hit") is not None
    )
    assert sample(samples, "callytics_queue_depth") == 0
    assert sample(samples, "callytics_jobs_running") == 0
    assert sample(samples, "callytics_model_load_seconds", stage="asr", backend="local") is not None
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


class BrokenDiarizer(FakeDiarizer):
    async def diarize(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")


def test_a_failed_job_is_counted_as_failed(make_client):
    client = make_client(diarizer=BrokenDiarizer([]))
    file = ("call.wav", wav_bytes(), "audio/wav")
    response = client.post("/v1/calls", files={"file": file})
    assert response.status_code == 202, response.text
    assert follow_job(client, response.json()["job_id"])[-1].status == "failed"

    text, samples = scrape(client)
    assert 'callytics_jobs_total{kind="analyze",outcome="failed"} 1.0' in text
    assert sample(samples, "callytics_jobs_total", kind="analyze", outcome="succeeded") is None
    assert sample(samples, "callytics_audio_seconds_total") == 0


@pytest.fixture
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal() as portal:
        yield portal


def test_a_remote_stage_is_timed_under_grpc_and_its_server_counts_calls(make_client, portal):
    async def start() -> StageServer:
        server = StageServer("sentiment", FakeSentimentAnalyzer(), host="127.0.0.1", port=0)
        await server.start()
        return server

    server = portal.call(start)
    try:
        labels = {"stage": "sentiment", "method": "Analyze", "code": "OK"}
        before = REGISTRY.get_sample_value("callytics_stage_requests_total", labels) or 0.0
        client = make_client(sentiment=GrpcSentimentAnalyzer(server.address))
        run_job(client)
        _, samples = scrape(client)

        grpc_count = sample(
            samples, "callytics_stage_duration_seconds_count", stage="sentiment", backend="grpc"
        )
        assert grpc_count == 1
        assert (
            sample(samples, "callytics_stage_duration_seconds_count", stage="asr", backend="local")
            == 1
        )
        assert sample(samples, "callytics_circuit_state", stage="sentiment") == 0
        after = REGISTRY.get_sample_value("callytics_stage_requests_total", labels) or 0.0
        assert after > before
        duration = REGISTRY.get_sample_value(
            "callytics_stage_request_duration_seconds_count",
            {"stage": "sentiment", "method": "Analyze"},
        )
        assert duration and duration >= after - before
    finally:
        portal.call(server.stop, 0)


def test_a_remote_stage_that_fails_counts_the_status_code(make_client, portal):
    class Broken(FakeSentimentAnalyzer):
        async def analyze(self, texts):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    async def start() -> StageServer:
        server = StageServer("sentiment", Broken(), host="127.0.0.1", port=0)
        await server.start()
        return server

    server = portal.call(start)
    try:
        server_labels = {"stage": "sentiment", "method": "Analyze", "code": "INTERNAL"}
        client_labels = {"stage": "sentiment", "code": "INTERNAL"}
        served = REGISTRY.get_sample_value("callytics_stage_requests_total", server_labels) or 0
        errors = REGISTRY.get_sample_value("callytics_grpc_client_errors_total", client_labels)
        remote = GrpcSentimentAnalyzer(server.address)
        client = make_client(sentiment=remote)
        with pytest.raises(Exception, match="boom"):
            client.portal.call(remote.analyze, ["hello"])
        assert REGISTRY.get_sample_value("callytics_stage_requests_total", server_labels) > served
        after = REGISTRY.get_sample_value("callytics_grpc_client_errors_total", client_labels)
        assert after == (errors or 0) + 1
    finally:
        portal.call(server.stop, 0)


def test_serve_with_workers_gets_a_fresh_multiprocess_directory(monkeypatch):
    monkeypatch.setenv(MULTIPROC_ENV, "")  # restored (unset) after the test
    first = prepare_multiprocess_metrics()
    second = prepare_multiprocess_metrics()
    assert os.environ[MULTIPROC_ENV] == second != first
    assert os.path.isdir(second) and not os.listdir(second)
    assert re.search(r"callytics-metrics-", second)
    os.rmdir(first)
    os.rmdir(second)


JOB_IN_A_WORKER = """
import sys
from bootstrap.prometheus import Metrics
metrics = Metrics()
metrics.job_ended("analyze", "succeeded", 3.0, {"stages": {}, "audio": {"duration_s": 2.0}})
if sys.argv[1] == "print":
    sys.stdout.write(metrics.exposition().decode())
"""


def test_with_a_multiprocess_directory_metrics_sum_every_worker(tmp_path):
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    for role in ("count", "count", "print"):  # three workers; the last one is scraped
        done = subprocess.run(
            [sys.executable, "-c", JOB_IN_A_WORKER, role],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    assert 'callytics_jobs_total{kind="analyze",outcome="succeeded"} 3.0' in done.stdout
    assert "callytics_audio_seconds_total 6.0" in done.stdout
