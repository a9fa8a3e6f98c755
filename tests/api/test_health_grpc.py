"""/health and the `stages` query with a stage served over gRPC whose service is down."""

from __future__ import annotations

from shared.stubs.channel import ChannelConfig
from shared.stubs.sentiment import GrpcSentimentAnalyzer
from tests.api.conftest import runtime_of
from tests.support.app import make_settings
from tests.support.processes import free_port
from tests.unit.fakes import FakeSentimentAnalyzer

DOWN = ChannelConfig(ready_timeout_s=0.0, retries=0)


def test_a_remote_optional_stage_that_is_down_degrades_health(make_client):
    target = f"127.0.0.1:{free_port()}"  # nothing listens there
    client = make_client(sentiment=GrpcSentimentAnalyzer(target, DOWN))
    client.portal.call(runtime_of(client).models_loaded)

    response = client.get("/health")
    assert response.status_code == 200  # optional: degraded, not down
    report = response.json()
    assert report["status"] == "degraded"
    sentiment = report["stages"]["sentiment"]
    assert (sentiment["status"], sentiment["backend"]) == ("down", "grpc")
    assert sentiment["remote"]["replicas"] == {target: "UNAVAILABLE"}
    assert sentiment["remote"]["serving"] is False
    assert client.get("/health/ready").status_code == 503

    query = "{ stages { name backend status target circuit consecutiveFailures failovers } }"
    stages = {
        s["name"]: s
        for s in client.post("/graphql", json={"query": query}).json()["data"]["stages"]
    }
    assert stages["sentiment"] == {
        "name": "sentiment",
        "backend": "grpc",
        "status": "down",
        "target": target,
        "circuit": "closed",
        "consecutiveFailures": 1,  # the start-up wait that gave up
        "failovers": 0,
    }
    assert stages["asr"]["target"] is None and stages["asr"]["backend"] == "local"


def test_with_failover_a_remote_stage_that_is_down_is_still_up(make_client, tmp_path):
    settings = make_settings(tmp_path).model_copy(update={"failover_to_local": True})
    target = f"127.0.0.1:{free_port()}"
    remote = GrpcSentimentAnalyzer(target, DOWN, fallback=FakeSentimentAnalyzer)
    client = make_client(settings, sentiment=remote)
    client.portal.call(runtime_of(client).models_loaded)

    report = client.get("/health").json()
    assert report["status"] == "ok"
    sentiment = report["stages"]["sentiment"]
    assert sentiment["status"] == "up" and "FAILOVER_TO_LOCAL" in sentiment["detail"]
    assert sentiment["remote"]["serving"] is False
