"""Scale-out mode against the real Redis and PostgreSQL: the API enqueues to arq, two
`callytics worker` processes run the jobs, and progress reaches the API's GraphQL
subscription over Redis pub/sub."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
import redis

from samples import load_script, render_call
from tests.support.databases import postgres_url
from tests.support.processes import ServeProcess, WorkerProcess, child_env, subscribe_job

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_url():
    db = random.randint(1, 15)
    url = f"redis://127.0.0.1:6379/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def test_two_workers_run_jobs_and_progress_travels_over_redis(tmp_path, redis_url):
    render_call(load_script("short"), tmp_path / "a.wav")
    render_call(load_script("short"), tmp_path / "b.wav", layout="stereo")
    with postgres_url() as db_url:
        env = child_env(
            DATABASE_URL=db_url,
            REDIS_URL=redis_url,
            JOB_BACKEND="arq",
            JOB_CONCURRENCY="1",
            STORAGE_DIR=str(tmp_path / "audio"),
            MODEL_CACHE_DIR=str(tmp_path / "models"),
            ASR_MODEL="tiny.en",
            LLM_PROVIDER="rules",
        )
        api = ServeProcess(env, tmp_path / "serve.log").start()
        workers = [WorkerProcess(env), WorkerProcess(env)]
        try:
            for w in workers:
                w.wait_for("worker ready")
            jobs = []
            for name in ("a.wav", "b.wav"):
                with open(tmp_path / name, "rb") as f:
                    reply = httpx.post(
                        f"{api.url}/v1/calls", files={"file": (name, f, "audio/wav")}, timeout=300
                    )
                assert reply.status_code == 202, reply.text
                jobs.append(reply.json())

            async def follow_both():
                return await asyncio.gather(*(subscribe_job(api.ws_url, j["job_id"]) for j in jobs))

            histories = asyncio.run(follow_both())
            documents = [httpx.get(f"{api.url}/v1/calls/{j['call_id']}", timeout=60) for j in jobs]
        finally:
            for w in workers:
                w.stop()
            api.close()

    for events in histories:
        assert [e["seq"] for e in events] == list(range(len(events)))
        stages = [e["stage"] for e in events]
        assert stages[:2] == ["queued", "start"] and stages[-1] == "done"
        assert {"decode", "diarization", "asr", "llm"} <= set(stages)
        assert events[-1]["status"] == "SUCCEEDED", events[-1]
    # each job ran in a worker process, not in the API, and the two workers shared them
    runners = {next(e["message"] for e in ev if e["stage"] == "start") for ev in histories}
    pids = {str(w.proc.pid) for w in workers}
    assert {r.rsplit(":", 1)[-1] for r in runners} == pids, (runners, pids)
    for reply in documents:
        assert reply.status_code == 200 and reply.json()["utterances"], api.log()
