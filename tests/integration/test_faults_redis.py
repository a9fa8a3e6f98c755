"""Fault: the Redis server dies while a job runs, then comes back.

A redis-server of the test's own (never the shared one) is SIGKILLed while the job waits in
its ASR stage. The API is the real app on a loopback port; its engines are fakes, so the
test controls exactly when the job moves on, and Redis is the only thing that fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from api.app import create_app
from tests.support.app import GatedTranscriber, LiveServer, fake_container, make_settings, wav_bytes
from tests.support.processes import subscribe_job
from tests.support.servers import RedisServer
from tests.support.waiting import wait_until
from tests.unit.fakes import words_of

WORDS = words_of("thank you for calling how can I help", 0.2) + words_of(
    "my bill is wrong and I want a refund", 4.6
)


@pytest.fixture
def gated():
    return GatedTranscriber(WORDS)


@contextlib.contextmanager
def opened_at_exit(gated: GatedTranscriber) -> Iterator[None]:
    """Never leave a job blocked behind a failed assertion (the server could not stop)."""
    try:
        yield
    finally:
        gated.gate.set()


def upload(http: httpx.Client) -> dict[str, Any]:
    # The same tone each time, analysed each time (force: not answered as a duplicate).
    reply = http.post(
        "/v1/calls",
        files={"file": ("call.wav", wav_bytes(10), "audio/wav")},
        data={"force": "true"},
    )
    assert reply.status_code == 202, reply.text
    return reply.json()


def follow(server: LiveServer, job_id: str) -> list[dict[str, Any]]:
    return asyncio.run(subscribe_job(f"{server.ws_url}/graphql", job_id, timeout=30))


def redis_health(http: httpx.Client) -> tuple[int, dict[str, Any]]:
    reply = http.get("/health")
    return reply.status_code, reply.json()


def test_redis_killed_mid_job_the_job_finishes_reads_answer_and_it_recovers(
    tmp_path, private_redis: RedisServer, gated: GatedTranscriber
):
    settings = make_settings(tmp_path, redis_url=private_redis.url())
    app = create_app(container=fake_container(settings, transcriber=gated))
    with (
        LiveServer(app) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
        opened_at_exit(gated),
    ):
        assert redis_health(http)[1]["redis"] == {"status": "up"}
        first = upload(http)
        assert gated.entered.wait(30), "the job never reached its ASR stage"
        private_redis.kill()

        # Reads answer from the database; health names Redis as the part that is down.
        job = http.get(f"/v1/jobs/{first['job_id']}")
        assert job.status_code == 200 and job.json()["status"] == "running", job.text
        assert http.get("/v1/calls").status_code == 200
        code, report = redis_health(http)
        assert report["redis"]["status"] == "down", report
        assert f"127.0.0.1:{private_redis.port}" in report["redis"]["detail"]
        assert report["database"]["status"] == "up"
        assert (code, report["status"]) == (200, "degraded"), report  # the local queue carries on
        assert http.get("/health/live").status_code == 200

        # The job is not lost: it finishes without Redis, and a subscriber (its bus is
        # Redis) still gets every event, from the table.
        gated.gate.set()
        events = follow(server, first["job_id"])
        assert [e["seq"] for e in events] == list(range(len(events)))
        assert events[-1]["status"] == "SUCCEEDED", events[-1]
        document = http.get(f"/v1/calls/{first['call_id']}")
        assert document.status_code == 200 and document.json()["utterances"], document.text

        # A recording sent while Redis is down is analysed too.
        second = upload(http)
        assert follow(server, second["job_id"])[-1]["status"] == "SUCCEEDED"

        # Redis is back (empty): health says so, and the cache writes to it again.
        private_redis.start()

        def healthy() -> bool:
            code, report = redis_health(http)
            return code == 200 and report["status"] == "ok" and report["redis"]["status"] == "up"

        wait_until(healthy, 30, "/health is ok again", diagnose=lambda: str(redis_health(http)))
        client = redis.Redis(port=private_redis.port)
        try:
            key = f"callytics:doc:{second['call_id']}"

            def cached_again() -> bool:
                assert http.get(f"/v1/calls/{second['call_id']}").status_code == 200
                return bool(client.exists(key))

            wait_until(cached_again, 30, "the call document is cached in Redis again")
        finally:
            client.close()
        third = upload(http)
        assert follow(server, third["job_id"])[-1]["status"] == "SUCCEEDED"
        assert http.get("/v1/calls").json()["total"] == 3
