"""Webhooks end to end, with real processes: a receiver that is down while `callytics serve`
finishes several jobs, and stays down across a restart of the server, gets every
``job.succeeded`` exactly once, signed, when it comes back (issue 20's "done when")."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core.persistence.database import Database
from core.persistence.models import WebhookDeliveryRow
from core.webhooks.signing import verify
from core.webhooks.store import WebhookStore
from samples import load_script, render_call
from tests.support.processes import ServeProcess, callytics_command, embedded_env, run_command
from tests.support.waiting import wait_until
from tests.support.webhook_receiver import Receiver

pytestmark = pytest.mark.slow

CALLS = 3
SECRET = "whsec_integration-test-secret"


def upload(server: ServeProcess, path: Path, n: int) -> dict[str, Any]:
    with open(path, "rb") as f:
        reply = httpx.post(
            f"{server.url}/v1/calls",
            files={"file": (f"call-{n}.wav", f, "audio/wav")},
            data={"force": "true"},  # the same recording each time: analyse it anyway
            timeout=120,
        )
    assert reply.status_code == 202, reply.text
    return dict(reply.json())


def deliveries(server: ServeProcess, hook_id: str) -> list[dict[str, Any]]:
    try:
        reply = httpx.get(f"{server.url}/v1/webhooks/{hook_id}/deliveries", timeout=30)
    except httpx.HTTPError:
        return []
    return list(reply.json()) if reply.status_code == 200 else []


def every(
    server: ServeProcess, hook_id: str, holds: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]] | None:
    """The delivery log when it has one delivery per call and ``holds`` for each."""
    logged = deliveries(server, hook_id)
    return logged if len(logged) == CALLS and all(holds(d) for d in logged) else None


def attempts_so_far(home: Path) -> dict[int, int]:
    database = Database(f"sqlite:///{home}/callytics.db")
    try:
        with database.session() as s:
            return dict(
                s.execute(select(WebhookDeliveryRow.id, WebhookDeliveryRow.attempts)).tuples().all()
            )
    finally:
        database.dispose()


def jobs_done(server: ServeProcess, job_ids: list[str]) -> bool:
    states = [httpx.get(f"{server.url}/v1/jobs/{j}", timeout=30).json() for j in job_ids]
    assert not [s for s in states if s["status"] == "failed"], states
    return all(s["status"] == "succeeded" for s in states)


def test_a_receiver_down_across_a_restart_gets_every_job_succeeded_once(tmp_path):
    render_call(load_script("short"), tmp_path / "call.wav")
    receiver = Receiver()  # its port is closed until it starts
    env = embedded_env(
        tmp_path,
        WEBHOOK_RETRY_BASE_S="0.2",
        WEBHOOK_RETRY_MAX_S="1",
        WEBHOOK_MAX_ATTEMPTS="1000",
        WEBHOOK_POLL_S="0.1",
        WEBHOOK_TIMEOUT_S="5",
    )
    added = run_command(
        [*callytics_command(), "webhooks", "add", receiver.url, "--event", "job.succeeded",
         "--secret", SECRET],
        env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    hook_id = added.stdout.strip()

    first = ServeProcess(env, tmp_path / "serve-1.log").start()
    try:
        jobs = [upload(first, tmp_path / "call.wav", n) for n in range(CALLS)]
        job_ids = [j["job_id"] for j in jobs]
        wait_until(lambda: jobs_done(first, job_ids), 600, "the jobs", diagnose=first.log)
        # Every event was tried, and failed: the receiver is down.
        tried = wait_until(
            lambda: every(first, hook_id, lambda d: d["attempts"] >= 2),
            120,
            "failed attempts at every delivery",
            diagnose=first.log,
        )
        assert len(tried) == CALLS
        assert all(d["status"] == "pending" and d["last_status"] is None for d in tried), tried
    finally:
        first.close()  # SIGTERM: the server restarts with the receiver still down

    before = attempts_so_far(tmp_path)  # with no server running: what the first one did
    assert sorted(before) == sorted(d["id"] for d in tried)
    second = ServeProcess(env, tmp_path / "serve-2.log").start()
    try:
        wait_until(
            lambda: every(second, hook_id, lambda d: d["attempts"] > before[d["id"]]),
            120,
            "the restarted server trying again",
            diagnose=second.log,
        )
        assert receiver.events() == []
        receiver.start()  # back
        logged = wait_until(
            lambda: every(second, hook_id, lambda d: d["status"] == "delivered"),
            120,
            "every delivery delivered",
            diagnose=second.log,
        )
    finally:
        second.close()
        receiver.stop()

    received = receiver.events()
    assert len(received) == CALLS  # exactly once each
    assert sorted(r.headers["Callytics-Delivery"] for r in received) == sorted(
        d["event_id"] for d in logged
    )
    assert sorted(r.event["data"]["call_id"] for r in received) == sorted(
        j["call_id"] for j in jobs
    )
    for r in received:
        assert r.headers["Callytics-Event"] == "job.succeeded"
        assert r.event["type"] == "job.succeeded" and r.event["data"]["summary"]
        assert verify(SECRET, r.headers["Callytics-Signature"], r.body, time.time())
    assert all(d["attempts"] > 2 and d["last_status"] == 200 for d in logged)


def test_webhooks_commands_as_typed(tmp_path):
    """docs/webhooks.md's commands, as typed: add (the secret shown once), list, deliveries,
    remove; and bad input exits 2 with what to do."""
    env = embedded_env(tmp_path, COLUMNS="250")  # the table at full width
    cli = [*callytics_command(), "webhooks"]
    url = "https://hooks.example.com/callytics"
    added = run_command(
        [*cli, "add", url, "--event", "job.succeeded", "--event", "job.failed"], env
    )
    assert added.returncode == 0, added.stderr
    hook_id = added.stdout.strip()
    assert "whsec_" in added.stderr and "not shown again" in added.stderr

    secret = added.stderr.split("not shown again): ")[1].split()[0]
    listed = run_command([*cli, "list"], env)
    assert hook_id in listed.stdout and url in listed.stdout, listed.stdout
    assert "job.succeeded, job.failed" in listed.stdout and secret not in listed.stdout

    logged = run_command([*cli, "deliveries", hook_id, "--json"], env)
    assert logged.returncode == 0 and json.loads(logged.stdout) == [], logged.stderr

    bad = run_command([*cli, "add", "ftp://x.example.com", "--event", "job.nope"], env)
    assert bad.returncode == 2 and "http or https" in bad.stderr, bad.stderr

    removed = run_command([*cli, "remove", hook_id], env)
    assert removed.returncode == 0, removed.stderr
    database = Database(env["DATABASE_URL"])
    assert WebhookStore(database).list() == []
    database.dispose()
