"""The outbox: events written in the transaction of the change they report, claimed with a
lease, and sent (and retried) by the dispatcher to a real receiver on a loopback port.
On SQLite and on the real PostgreSQL server (the ``database`` fixture)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from core.categories.rules import parse_rule
from core.categories.store import CategoryStore
from core.errors import InvalidInputError, NotFoundError
from core.live.manager import LiveManager
from core.persistence.models import JobRow, LiveCallRow, WebhookDeliveryRow
from core.persistence.unit_of_work import UnitOfWork
from core.webhooks import events as ev
from core.webhooks.dispatcher import RetryPolicy, WebhookDispatcher
from core.webhooks.signing import verify
from core.webhooks.store import WebhookStore
from tests.support.webhook_receiver import Receiver
from tests.unit.jobs.test_service import fake_service

SECRET = "whsec_unit-test-secret"


@pytest.fixture
def sqlite(tmp_path):
    """For the tests where the database's dialect is not the point (claims, leases and the
    commit of an event with its change run on PostgreSQL too)."""
    from tests.support.databases import temp_database

    with temp_database("sqlite", tmp_path) as db:
        yield db


class Clock:
    """Simulated time: moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def deliveries(database, event_type: str | None = None) -> list[WebhookDeliveryRow]:
    with database.session() as s:
        query = select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.id)
        if event_type:
            query = query.where(WebhookDeliveryRow.event_type == event_type)
        return list(s.scalars(query))


def hook(database, url="http://127.0.0.1:9/hooks", events=ev.EVENTS):
    return WebhookStore(database).create(url, list(events), SECRET)


def emit_at(database, clock: Clock, n: int) -> list[str]:
    """``n`` job.succeeded events, created at the simulated time."""
    ids = []
    with UnitOfWork(database) as uow:
        for i in range(n):
            ids.append(ev.emit(uow, ev.JOB_SUCCEEDED, {"job_id": f"j{i}"}))
    with database.session() as s:  # created "now" by the simulated clock
        s.execute(update(WebhookDeliveryRow).values(next_attempt_at=clock.now))
    return ids


# ----------------------------------------------------------------- written atomically
async def test_a_job_writes_job_succeeded_with_its_call_in_one_commit(database, tmp_path):
    hooked = hook(database, events=[ev.JOB_SUCCEEDED, ev.JOB_FAILED])
    src = tmp_path / "call.wav"
    src.write_bytes(b"RIFF fake")
    doc = await fake_service(database, tmp_path).analyze_file(
        src, filename="call.wav", metadata={"agent": "a-7", "queue": "billing"}
    )
    [row] = deliveries(database)
    assert (row.webhook_id, row.event_type, row.status) == (hooked.id, "job.succeeded", "pending")
    data = row.payload["data"]
    assert row.payload["id"] == row.event_id and row.payload["type"] == "job.succeeded"
    assert data["call_id"] == doc["id"] and data["filename"] == "call.wav"
    assert data["metadata"] == {"agent": "a-7", "queue": "billing"}
    assert data["summary"] == doc["analysis"]["summary"]
    assert data["resolution"] == doc["analysis"]["resolution"]
    assert data["duration_s"] == doc["audio"]["duration_s"]
    assert "utterances" not in data and "transcript" not in str(data)


async def test_a_store_that_fails_writes_no_job_succeeded_only_job_failed(database, tmp_path):
    hook(database, events=[ev.JOB_SUCCEEDED, ev.JOB_FAILED])
    service = fake_service(database, tmp_path)
    first = tmp_path / "first.wav"
    first.write_bytes(b"RIFF one")
    doc = await service.analyze_file(first)
    second = tmp_path / "second.wav"
    second.write_bytes(b"RIFF two")
    handle, _ = service.submit(second)
    with database.session() as s:  # its call id is taken: storing the call must fail
        s.execute(update(JobRow).where(JobRow.id == handle.job_id).values(call_id=doc["id"]))
    with pytest.raises(Exception):  # noqa: B017 - the database's integrity error
        await service.execute(handle.job_id, defer=False)
    kinds = [(r.event_type, r.payload["data"]["call_id"]) for r in deliveries(database)]
    # The first job's success; the second's failure, and no success for it.
    assert kinds == [("job.succeeded", doc["id"]), ("job.failed", doc["id"])]
    assert deliveries(database)[1].payload["data"]["job_id"] == handle.job_id


async def test_deleting_a_call_and_tagging_it_are_events_too(sqlite, tmp_path):
    database = sqlite
    hook(database, events=[ev.CALL_DELETED, ev.CATEGORY_MATCHED])
    src = tmp_path / "call.wav"
    src.write_bytes(b"RIFF fake")
    service = fake_service(database, tmp_path)
    doc = await service.analyze_file(src, metadata={"team": "north"})
    categories = CategoryStore(database)
    billing = categories.create(
        parse_rule({"name": "bill", "conditions": [{"kind": "phrase", "phrases": ["bill"]}]})
    )
    assert categories.tag_call(doc["id"], doc) == ["bill"]
    categories.apply(billing.id)  # tagged already: no second event
    service.delete_call(doc["id"], "admin:test")
    rows = deliveries(database)
    assert [r.event_type for r in rows] == ["category.matched", "call.deleted"]
    assert rows[0].payload["data"] | {} == {
        "call_id": doc["id"],
        "category_id": billing.id,
        "category": "bill",
        "filename": "call.wav",
        "metadata": {"team": "north"},
    }
    assert rows[1].payload["data"]["deleted_by"] == "admin:test"


def test_live_alerts_go_out_as_they_are_saved_each_once(sqlite, tmp_path):
    database = sqlite
    hook(database, events=[ev.LIVE_ALERT])
    with UnitOfWork(database) as uow:
        uow.live_calls.add(
            LiveCallRow(
                id="live-1",
                status="live",
                encoding="pcm_s16le",
                sample_rate=16000,
                channels=1,
                options={},
                agent="a-1",
                audio_path="x.wav",
                snapshot={},
            )
        )
    manager = LiveManager(
        database, transcriber=None, sentiment=None, categories=None, service=None,
        enqueue=None, bus=None, storage_dir=tmp_path,
    )  # fmt: skip
    pii = {"kind": "pii", "message": "credit card number said on the call", "pii_type": "CARD"}
    streak = {"kind": "negative_streak", "message": "3 negative", "utterance": 4}
    manager._update("live-1", snapshot={"alerts": [pii]})
    manager._update("live-1", snapshot={"alerts": [pii, streak]})
    manager._update("live-1", status="dropped")  # no snapshot: nothing new
    rows = deliveries(database)
    assert [r.payload["data"]["alert"] for r in rows] == [pii, streak]
    assert (
        rows[0].payload["data"]["live_id"] == "live-1" and rows[0].payload["data"]["agent"] == "a-1"
    )


# ----------------------------------------------------------------- the store's checks
@pytest.mark.parametrize(
    ("url", "events", "secret", "says"),
    [
        ("ftp://example.com/x", ["job.succeeded"], None, "http or https"),
        ("not a url", ["job.succeeded"], None, "http or https"),
        ("https://example.com/x", ["job.done"], None, "Choose from: job.succeeded"),
        ("https://example.com/x", [], None, "at least one event"),
        ("https://example.com/x", ["job.failed"], "short", "16 to 200"),
    ],
)
def test_bad_webhooks_are_refused_with_what_to_do(sqlite, url, events, secret, says):
    database = sqlite
    with pytest.raises(InvalidInputError) as raised:
        WebhookStore(database).create(url, events, secret)
    assert says in str(raised.value)
    assert WebhookStore(database).list() == []


def test_the_secret_is_shown_once_and_a_ping_goes_to_that_webhook_alone(sqlite):
    database = sqlite
    store = WebhookStore(database)
    made = store.create("https://a.example.com/h", ["job.failed"])
    other = store.create("https://b.example.com/h", ["job.failed"])
    assert made.secret.startswith("whsec_")
    assert "secret" not in store.get(made.id).model_dump()
    event_id = store.ping(made.id)
    [delivery] = store.deliveries(made.id)
    assert (delivery.event_id, delivery.event_type) == (event_id, "ping")
    assert store.deliveries(other.id) == []
    store.delete(made.id)
    with pytest.raises(NotFoundError):
        store.deliveries(made.id)


# ----------------------------------------------------------------- claim and lease
def test_two_dispatchers_claiming_at_once_share_the_rows_and_never_hold_one_twice(database):
    clock = Clock()
    hook(database)
    emit_at(database, clock, 10)
    a = WebhookDispatcher(database, clock=clock, batch=6)
    b = WebhookDispatcher(database, clock=clock, batch=6)
    got_a = [d.id for d, _ in a._claim(clock.now)]
    got_b = [d.id for d, _ in b._claim(clock.now)]
    assert len(got_a) == 6 and len(got_b) == 4 and not set(got_a) & set(got_b)
    assert a._claim(clock.now) == []  # every row is leased
    clock.now += a.lease + timedelta(seconds=1)  # a's lease ran out (say it died)
    retaken = [d.id for d, _ in b._claim(clock.now)]
    assert sorted(retaken) == sorted(got_a + got_b)[: len(retaken)] and len(retaken) == 6
    with UnitOfWork(database) as uow:  # a, back, cannot settle what b holds now
        assert not uow.webhooks.settle(got_a[0], a.worker, status="delivered")


async def test_two_dispatchers_running_together_send_each_event_once(database):
    receiver = Receiver().start()
    try:
        WebhookStore(database).create(receiver.url, [ev.JOB_SUCCEEDED], SECRET)
        clock = Clock()
        ids = emit_at(database, clock, 12)
        a = WebhookDispatcher(database, clock=clock, batch=4)
        b = WebhookDispatcher(database, clock=clock, batch=4)
        try:
            while any(r.status == "pending" for r in deliveries(database)):
                await asyncio.gather(a.run_once(), b.run_once())
        finally:
            await a.stop()
            await b.stop()
        got = [r.headers["Callytics-Delivery"] for r in receiver.events()]
        assert sorted(got) == sorted(ids)
    finally:
        receiver.stop()


# ----------------------------------------------------------------- retries
async def test_a_receiver_down_for_over_a_minute_still_gets_each_event_once(database):
    receiver = Receiver()  # not listening: connections are refused
    WebhookStore(database).create(receiver.url, [ev.JOB_SUCCEEDED], SECRET)
    clock = Clock()
    start = clock.now
    ids = emit_at(database, clock, 3)
    dispatcher = WebhookDispatcher(
        database, clock=clock, policy=RetryPolicy(base_s=2, max_s=30, max_attempts=20)
    )
    try:
        while clock.now - start < timedelta(seconds=65):  # down: every try fails
            await dispatcher.run_once()
            clock.now = min(r.next_attempt_at for r in deliveries(database)).replace(tzinfo=UTC)
        rows = deliveries(database)
        assert all(r.status == "pending" and r.attempts >= 4 for r in rows)
        assert all("ConnectError" in (r.last_error or "") for r in rows)
        receiver.start()  # back
        while any(r.status == "pending" for r in deliveries(database)):
            clock.now = min(
                r.next_attempt_at for r in deliveries(database) if r.status == "pending"
            ).replace(tzinfo=UTC)
            await dispatcher.run_once()
    finally:
        await dispatcher.stop()
        receiver.stop()
    got = receiver.events()
    assert sorted(r.headers["Callytics-Delivery"] for r in got) == sorted(ids)
    for r in got:
        assert r.headers["Callytics-Event"] == "job.succeeded"
        assert r.event["id"] == r.headers["Callytics-Delivery"]
        signed_at = int(r.headers["Callytics-Signature"].split(",")[0][2:])
        assert verify(SECRET, r.headers["Callytics-Signature"], r.body, now=signed_at)
        assert signed_at - int(start.timestamp()) > 60  # signed when sent, not when queued
    assert all(r.status == "delivered" and r.last_status == 200 for r in deliveries(database))


async def test_failures_stop_after_max_attempts_and_410_disables_the_endpoint(sqlite):
    database = sqlite
    failing = Receiver(status=500).start()
    gone = Receiver(status=410).start()
    try:
        store = WebhookStore(database)
        bad = store.create(failing.url, [ev.JOB_FAILED], SECRET)
        dead = store.create(gone.url, [ev.JOB_FAILED], SECRET)
        clock = Clock()
        with UnitOfWork(database) as uow:
            ev.emit(uow, ev.JOB_FAILED, {"job_id": "j1"})
            ev.emit(uow, ev.JOB_FAILED, {"job_id": "j2"})
        clock.now = datetime.now(UTC)
        dispatcher = WebhookDispatcher(
            database, clock=clock, policy=RetryPolicy(base_s=1, max_s=4, max_attempts=3)
        )
        try:
            for _ in range(3):
                await dispatcher.run_once()
                clock.now += timedelta(seconds=10)
        finally:
            await dispatcher.stop()
        tries = store.deliveries(bad.id)
        assert [(d.status, d.attempts, d.last_status) for d in tries] == [("failed", 3, 500)] * 2
        assert len(failing.events()) == 6
        assert len(gone.events()) == 2  # both went in the first round, neither again
        assert {(d.status, d.last_status) for d in store.deliveries(dead.id)} == {("failed", 410)}
        assert not store.get(dead.id).active and "410" in (store.get(dead.id).disabled_reason or "")
        with UnitOfWork(database) as uow:  # a disabled endpoint gets no new events
            ev.emit(uow, ev.JOB_FAILED, {"job_id": "j3"})
        assert len(store.deliveries(dead.id)) == 2
    finally:
        failing.stop()
        gone.stop()
