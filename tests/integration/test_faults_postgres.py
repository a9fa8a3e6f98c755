"""Fault: the PostgreSQL server restarts, or stops, while the API serves and a job runs.

The cluster is the test's own (initdb into a temporary directory, pg_ctl on a free port),
never the shared server. The API is the real app on a loopback port with fake engines; the
job waits in its ASR stage until the test lets it go, so each fault lands mid-job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
from sqlalchemy import func, select

from api.app import create_app
from core.persistence.database import Database
from core.persistence.models import CallRow, JobRow, UtteranceRow
from tests.support.app import GatedTranscriber, LiveServer, fake_container, make_settings, wav_bytes
from tests.support.servers import PostgresCluster
from tests.support.waiting import wait_until
from tests.unit.fakes import words_of

WORDS = words_of("thank you for calling how can I help", 0.2) + words_of(
    "my bill is wrong and I want a refund", 4.6
)


@contextlib.contextmanager
def opened_at_exit(gated: GatedTranscriber) -> Iterator[None]:
    try:
        yield
    finally:
        gated.gate.set()  # never leave a job blocked behind a failed assertion


def upload(http: httpx.Client) -> dict[str, Any]:
    # The same tone each time, analysed each time (force: not answered as a duplicate).
    reply = http.post(
        "/v1/calls",
        files={"file": ("call.wav", wav_bytes(10), "audio/wav")},
        data={"force": "true"},
    )
    assert reply.status_code == 202, reply.text
    return reply.json()


def job_state(http: httpx.Client, job_id: str) -> dict[str, Any]:
    reply = http.get(f"/v1/jobs/{job_id}")
    assert reply.status_code == 200, reply.text
    return reply.json()


def stored(database: Database, call_id: str) -> tuple[int, int]:
    """(calls in all, utterances of ``call_id``)."""
    with database.session() as s:
        calls = s.scalar(select(func.count()).select_from(CallRow))
        of_call = select(func.count()).select_from(UtteranceRow)
        return calls, s.scalar(of_call.where(UtteranceRow.call_id == call_id))


def test_postgres_restarted_or_stopped_mid_job_requests_recover_and_jobs_finish_once(
    tmp_path, private_postgres: PostgresCluster
):
    url = private_postgres.create_database("callytics")
    gated = GatedTranscriber(WORDS)
    settings = make_settings(tmp_path, database_url=url, job_retry_delay_s=0.1)
    app = create_app(container=fake_container(settings, transcriber=gated))
    database = Database(url)
    with (
        LiveServer(app) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
        opened_at_exit(gated),
    ):
        # The pool holds connections that the restart will break.
        first = upload(http)
        assert gated.entered.wait(30), "the job never reached its ASR stage"
        assert http.get("/v1/calls").status_code == 200

        private_postgres.restart()  # "fast": every session is ended at once

        # The very next requests succeed: a broken pooled connection is replaced.
        assert job_state(http, first["job_id"])["status"] == "running"
        listing = http.get("/v1/calls")
        assert listing.status_code == 200 and listing.json()["total"] == 0, listing.text
        health = http.get("/health")
        assert health.json()["database"]["status"] == "up", health.text
        # The job in flight goes on: its progress and its call are written after the restart.
        gated.gate.set()
        wait_until(
            lambda: job_state(http, first["job_id"])["status"] == "succeeded",
            30,
            "the job in flight during the restart succeeds",
            diagnose=lambda: str(job_state(http, first["job_id"])),
        )
        document = http.get(f"/v1/calls/{first['call_id']}").json()
        assert stored(database, first["call_id"]) == (1, len(document["utterances"]))

        # The server is down when the next job stores its call: reads answer 503, nothing
        # is half-written, and the job runs again once the server is back.
        gated.entered.clear()
        gated.gate.clear()
        second = upload(http)
        assert gated.entered.wait(30), "the second job never reached its ASR stage"
        private_postgres.stop()
        reply = http.get(f"/v1/jobs/{second['job_id']}")
        assert reply.status_code == 503, reply.text
        assert reply.json()["error"]["code"] == "database_unavailable", reply.text
        health = http.get("/health")
        assert health.status_code == 503 and health.json()["database"]["status"] == "down"
        gated.gate.set()
        wait_until(
            lambda: http.get("/health").json()["queue"]["running"] == 0,
            30,
            "the attempt that could not store its call ends",
            diagnose=lambda: http.get("/health").text,
        )
        private_postgres.start()
        wait_until(
            lambda: job_state(http, second["job_id"])["status"] == "succeeded",
            30,
            "the job that met the outage runs again and succeeds",
            diagnose=lambda: str(job_state(http, second["job_id"])),
        )
        document = http.get(f"/v1/calls/{second['call_id']}").json()
        assert stored(database, second["call_id"]) == (2, len(document["utterances"]))
        with database.session() as s:
            assert s.get(JobRow, second["job_id"]).attempts == 2
    database.dispose()
