"""A server killed mid-job and started again finishes the job: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets
from sqlalchemy import func, select

from core.persistence.database import Database
from core.persistence.models import CallRow, JobRow, UtteranceRow
from samples import load_script, render_call
from tests.support.processes import ServeProcess, embedded_env, subscribe_job

pytestmark = pytest.mark.slow


def test_a_job_interrupted_by_a_crash_runs_again_after_restart(tmp_path):
    render_call(load_script("short"), tmp_path / "call.wav")
    db_url = f"sqlite:///{tmp_path}/callytics.db"
    env = embedded_env(tmp_path)
    first = ServeProcess(env, tmp_path / "serve-1.log").start()
    try:
        with open(tmp_path / "call.wav", "rb") as f:
            reply = httpx.post(
                f"{first.url}/v1/calls", files={"file": ("call.wav", f, "audio/wav")}, timeout=300
            )
        assert reply.status_code == 202, reply.text
        job_id, call_id = reply.json()["job_id"], reply.json()["call_id"]

        seen: list[dict] = []

        def crash_in_asr(event: dict) -> None:
            seen.append(event)
            if event["stage"] == "asr":
                first.kill()

        with pytest.raises(websockets.ConnectionClosed):
            asyncio.run(subscribe_job(first.ws_url, job_id, crash_in_asr))
    finally:
        first.close()
    assert [e["stage"] for e in seen][:2] == ["queued", "start"], first.log()

    database = Database(db_url)
    with database.session() as s:
        job = s.get(JobRow, job_id)
        assert job.status == "running" and job.attempts == 1
        assert s.scalar(select(func.count()).select_from(CallRow)) == 0

    second = ServeProcess(env, tmp_path / "serve-2.log").start()
    try:
        events = asyncio.run(subscribe_job(second.ws_url, job_id))
        document = httpx.get(f"{second.url}/v1/calls/{call_id}", timeout=60)
    finally:
        second.close()

    # the replay holds the first attempt, the re-queue, the second attempt, in order
    assert [e["seq"] for e in events] == list(range(len(events)))
    messages = [e["message"] for e in events]
    assert any("queued again" in m for m in messages), messages
    assert sum(e["stage"] == "start" for e in events) == 2
    assert events[-1]["status"] == "SUCCEEDED"
    assert document.status_code == 200 and document.json()["utterances"], second.log()

    with database.session() as s:
        job = s.get(JobRow, job_id)
        assert job.status == "succeeded" and job.attempts == 2
        assert s.scalar(select(func.count()).select_from(CallRow)) == 1
        stored = s.scalar(
            select(func.count()).select_from(UtteranceRow).where(UtteranceRow.call_id == call_id)
        )
        assert stored == len(document.json()["utterances"])
    database.dispose()
