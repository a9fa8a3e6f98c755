"""Fault: a gRPC stage service is SIGKILLed while the API uses it, then started again.

The API (the real app, USE_EMBEDDING_MS=true) embeds every search query on a real
`callytics stage embedding` process. Once the stage is gone, searches fail with
``stage_unavailable``; after GRPC_BREAKER_THRESHOLD failures the circuit opens and calls
are refused at once, without trying the stage; once it is back the circuit half-opens after
GRPC_BREAKER_TTL_S, lets a call through, closes, and searches succeed again.
"""

from __future__ import annotations

import itertools
import logging
import re

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from shared.stubs.health_check import check
from tests.support.app import fake_container, make_settings
from tests.support.processes import StageProcess, child_env, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
THRESHOLD = 2


def serving(stage: StageProcess) -> None:
    wait_until(
        lambda: check(stage.address, timeout_s=1) == "SERVING",
        120,
        f"`callytics stage {stage.stage}` reports SERVING",
        diagnose=stage.log,
    )


def circuit_metric(client: TestClient) -> float:
    text = client.get("/metrics").text
    found = re.search(r'^callytics_circuit_state\{stage="embedding"\} (\S+)$', text, re.M)
    assert found, "no callytics_circuit_state for the embedding stage in /metrics"
    return float(found.group(1))


def embedding_health(client: TestClient) -> dict:
    stage = client.get("/health").json()["stages"]["embedding"]
    return {"status": stage["status"], **(stage["remote"] or {})}


def test_a_killed_stage_opens_the_circuit_and_a_restarted_one_closes_it(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="shared.stubs.channel")
    env = child_env()
    stage = StageProcess("embedding", free_port(), env, tmp_path / "embedding-1.log")
    try:
        serving(stage)
        settings = make_settings(
            tmp_path,
            use_embedding_ms=True,
            embedding_grpc_target=stage.address,
            grpc_retries=1,
            grpc_breaker_threshold=THRESHOLD,
            grpc_breaker_ttl_s=2,
            grpc_ready_timeout_s=1,
            grpc_deadline_s=20,
        )
        app = create_app(container=fake_container(settings, real=("embedder",)))
        with TestClient(app) as client:
            queries = (f"I want my money back, take {n}" for n in itertools.count())

            def search() -> httpx.Response:
                return client.get("/v1/search", params={"q": next(queries), "k": 3})

            assert search().status_code == 200
            assert embedding_health(client)["circuit"] == "closed"

            stage.kill()
            for _ in range(THRESHOLD):  # each fails after its retries (or the readiness wait)
                reply = search()
                assert reply.status_code == 503, reply.text
                assert reply.json()["error"]["code"] == "stage_unavailable"
            state = embedding_health(client)
            assert state["circuit"] == "opened" and state["status"] == "down", state
            assert state["consecutive_failures"] == THRESHOLD
            assert circuit_metric(client) == 2  # opened

            # Refused by the open circuit at once (its message says so), not by the stage.
            def refused_by_the_circuit() -> bool:
                error = search().json()["error"]
                assert error["code"] == "stage_unavailable", error
                return "circuit open" in error["message"]

            wait_until(refused_by_the_circuit, 30, "a search refused by the open circuit")

            stage = StageProcess("embedding", stage.port, env, tmp_path / "embedding-2.log")
            wait_until(
                lambda: search().status_code == 200,
                120,
                "searches succeed once the stage is back",
                diagnose=lambda: f"{embedding_health(client)}\n{stage.log()}",
            )
            state = embedding_health(client)
            assert state["circuit"] == "closed" and state["status"] == "up", state
            assert state["consecutive_failures"] == 0
            assert circuit_metric(client) == 0
            transitions = [
                r.getMessage()
                for r in caplog.records
                if r.getMessage().startswith("embedding circuit")
            ]
            assert transitions[0] == "embedding circuit opened", transitions
            assert transitions[-2:] == ["embedding circuit half-opened", "embedding circuit closed"]
    finally:
        stage.stop()
