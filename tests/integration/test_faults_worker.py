"""Faults in scale-out mode (JOB_BACKEND=arq), with real processes: `callytics serve`, then
`callytics worker` processes, a redis-server of the test's own and a fresh PostgreSQL
database.

1. The worker running a job is SIGKILLed. Another worker, started after the kill, takes the
   job over once the dead worker's arq lease ends (``ARQ_JOB_TIMEOUT_S`` + 10 s), and the
   call is stored exactly once.
2. Redis is killed while that worker runs the next job. The job finishes (its outcome is in
   the job table; a subscriber reads it from there), the worker process stays up, a
   recording sent meanwhile is accepted, and once Redis is back (empty) that recording is
   handed to arq again and the same worker runs it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.persistence.database import Database
from core.persistence.models import CallRow, JobRow, UtteranceRow
from samples import load_script, render_call
from tests.support.databases import postgres_url
from tests.support.processes import ServeProcess, WorkerProcess, child_env, subscribe_job
from tests.support.servers import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
LEASE_JOB_TIMEOUT_S = 10  # arq's lease on a running job is this + 10 s


def submit(api: ServeProcess, path: Path) -> dict[str, str]:
    with open(path, "rb") as f:
        reply = httpx.post(  # the same recording each time, a new job each time (force)
            f"{api.url}/v1/calls",
            files={"file": (path.name, f, "audio/wav")},
            data={"force": "true"},
            timeout=120,
        )
    assert reply.status_code == 202, f"{reply.text}\n{api.log()}"
    return reply.json()


def follow(api: ServeProcess, job_id: str, on_event: Any = None) -> list[dict[str, Any]]:
    return asyncio.run(subscribe_job(api.ws_url, job_id, on_event, timeout=120))


def runner_pid(events: list[dict[str, Any]], nth: int = 0) -> int:
    """The pid of the worker that ran the ``nth`` attempt (its "start" event says host:pid)."""
    starts = [e["message"] for e in events if e["stage"] == "start"]
    return int(starts[nth].rsplit(":", 1)[-1])


def test_a_killed_worker_s_job_runs_on_another_and_a_redis_outage_loses_no_job(
    tmp_path, private_redis: RedisServer
):
    render_call(load_script("short"), tmp_path / "call.wav")
    with postgres_url() as db_url:
        env = child_env(
            DATABASE_URL=db_url,
            REDIS_URL=private_redis.url(),
            JOB_BACKEND="arq",
            JOB_CONCURRENCY="1",
            ARQ_JOB_TIMEOUT_S=str(LEASE_JOB_TIMEOUT_S),
            STORAGE_DIR=str(tmp_path / "audio"),
            MODEL_CACHE_DIR=str(tmp_path / "models"),
            ASR_MODEL="tiny.en",
            LLM_PROVIDER="rules",
        )
        api = ServeProcess(env, tmp_path / "serve.log").start()
        first = WorkerProcess(env, "--metrics-port", "0")
        workers = [first]
        database = Database(db_url)
        try:
            first.wait_for("worker ready")
            job = submit(api, tmp_path / "call.wav")

            def kill_mid_job(event: dict[str, Any]) -> None:
                if event["stage"] == "decode" and len(workers) == 1:
                    first.kill()  # the only worker: it holds the job
                    workers.append(WorkerProcess(env, "--metrics-port", "0"))

            events = follow(api, job["job_id"], kill_mid_job)
            second = workers[1]
            assert first.proc.returncode == -9

            # 1. The job ran twice, on the dead worker and then the new one, stored once.
            assert events[-1]["status"] == "SUCCEEDED", events[-1]
            assert [e["seq"] for e in events] == list(range(len(events)))
            assert runner_pid(events, 0) == first.proc.pid
            assert runner_pid(events, 1) == second.proc.pid
            document = httpx.get(f"{api.url}/v1/calls/{job['call_id']}", timeout=30).json()
            with database.session() as s:
                row = s.get(JobRow, job["job_id"])
                assert (row.status, row.attempts) == ("succeeded", 2)
                assert s.scalar(select(func.count()).select_from(CallRow)) == 1
                utterances = select(func.count()).select_from(UtteranceRow)
                assert s.scalar(utterances) == len(document["utterances"]) > 0

            # 2. Redis dies while the second worker runs the next job.
            during = submit(api, tmp_path / "call.wav")
            at_kill: list[str] = []

            def kill_redis(event: dict[str, Any]) -> None:
                if event["stage"] == "start" and not at_kill:
                    private_redis.kill()
                    state = httpx.get(f"{api.url}/v1/jobs/{during['job_id']}", timeout=30)
                    at_kill.append(state.json()["status"])

            events = follow(api, during["job_id"], kill_redis)  # read from the table
            assert at_kill == ["running"], at_kill
            assert events[-1]["status"] == "SUCCEEDED", events[-1]
            assert runner_pid(events) == second.proc.pid
            second.wait_for("lost Redis")
            # Reads answer from the database; health says Redis (the job queue) is down.
            assert httpx.get(f"{api.url}/v1/calls/{during['call_id']}", timeout=30).is_success
            health = httpx.get(f"{api.url}/health", timeout=30)
            assert health.status_code == 503 and health.json()["status"] == "down"
            assert f"127.0.0.1:{private_redis.port}" in health.json()["redis"]["detail"]
            sent_meanwhile = submit(api, tmp_path / "call.wav")  # kept, queued in the table
            assert second.proc.poll() is None, "".join(second.output)

            private_redis.start()  # empty: the API hands the queued job to arq again
            events = follow(api, sent_meanwhile["job_id"])
            assert events[-1]["status"] == "SUCCEEDED", events[-1]
            assert runner_pid(events) == second.proc.pid  # the worker outlived the outage
            with database.session() as s:
                assert s.scalar(select(func.count()).select_from(CallRow)) == 3
                statuses = s.scalars(select(JobRow.status)).all()
                assert statuses == ["succeeded"] * 3
        finally:
            for worker in workers:
                worker.stop()
            api.close()
            database.dispose()
