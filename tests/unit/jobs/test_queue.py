"""Durable jobs: the event log, the subscriber's view of it, bounded concurrency, and restart."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.analysis.pipeline import CallPipeline
from core.errors import JobDeferred, StageUnavailableError
from core.jobs.audio_store import AudioStore
from core.jobs.events import JobEvent, LocalEventBus, watch_job
from core.jobs.queue import LocalJobQueue
from core.jobs.service import AnalysisService
from core.persistence.models import CallRow, JobRow
from core.persistence.repositories import JobRepository
from tests.support.app import fake_engines
from tests.unit.fakes import FakeTranscriber, silent_audio, words_of

WORDS = words_of("thank you for calling", 0.2) + words_of("my bill is wrong", 4.6)


class CountingTranscriber(FakeTranscriber):
    """Holds every call until ``release`` is set; remembers the most running at once."""

    def __init__(self) -> None:
        super().__init__(WORDS)
        self.running = 0
        self.most = 0
        self.changed = threading.Condition()
        self.release = threading.Event()

    async def until(self, predicate, timeout: float = 10) -> bool:
        def wait() -> bool:
            with self.changed:
                return self.changed.wait_for(predicate, timeout)

        return await asyncio.to_thread(wait)

    async def transcribe(self, samples, options, progress=None):
        with self.changed:
            self.running += 1
            self.most = max(self.most, self.running)
            self.changed.notify_all()
        await asyncio.to_thread(self.release.wait, 30)
        with self.changed:
            self.running -= 1
        return await super().transcribe(samples, options, progress)


def service_for(database, tmp_path: Path, transcriber=None, bus=None) -> AnalysisService:
    engines = fake_engines(transcriber)
    pipeline = CallPipeline(
        engines["diarizer"],
        engines["transcriber"],
        engines["sentiment"],
        engines["embedder"],
        engines["analyzer"],
    )
    return AnalysisService(
        pipeline,
        database,
        lambda _path: silent_audio(10),
        AudioStore(tmp_path / "audio"),
        bus=bus or LocalEventBus(),
    )


def recording(tmp_path: Path, name: str = "call.wav") -> Path:
    path = tmp_path / name
    path.write_bytes(b"RIFF....WAVE")
    return path


async def test_watching_a_finished_job_replays_everything_and_ends(database, tmp_path):
    service = service_for(database, tmp_path)
    document = await service.analyze_file(recording(tmp_path))
    with database.session() as s:
        job_id = s.scalars(select(JobRow.id)).one()
    events = [e async for e in watch_job(job_id, service.bus, service.stored_events)]
    assert [e.seq for e in events] == list(range(len(events)))
    assert events[0].stage == "queued" and events[1].stage == "start"
    assert events[-1].terminal and events[-1].status == "succeeded"
    assert document["id"] == events[-1].job_id or events[-1].job_id == job_id


async def test_a_subscriber_joining_mid_job_sees_each_event_once_in_order(database, tmp_path):
    transcriber = CountingTranscriber()
    service = service_for(database, tmp_path, transcriber)
    handle, _ = service.submit(recording(tmp_path))
    run = asyncio.create_task(service.execute(handle.job_id))
    assert await transcriber.until(lambda: transcriber.running)
    watched: list[JobEvent] = []

    async def watch() -> None:
        async for event in watch_job(handle.job_id, service.bus, service.stored_events):
            watched.append(event)

    watcher = asyncio.create_task(watch())
    transcriber.release.set()
    await run
    await asyncio.wait_for(watcher, 10)
    stored = service.stored_events(handle.job_id)
    assert [(e.seq, e.stage) for e in watched] == [(e.seq, e.stage) for e in stored]
    stages = [e.stage for e in watched]
    assert stages.index("diarization") < stages.index("asr") < stages.index("llm")
    assert watched[-1].status == "succeeded"


class DeafBus(LocalEventBus):
    """A bus that loses every message (a Redis blip): the table must still deliver."""

    async def publish(self, event: JobEvent) -> None:
        return None


async def test_lost_bus_messages_are_recovered_from_the_table(database, tmp_path):
    transcriber = CountingTranscriber()
    service = service_for(database, tmp_path, transcriber, bus=DeafBus())
    handle, _ = service.submit(recording(tmp_path))
    run = asyncio.create_task(service.execute(handle.job_id))
    watcher = asyncio.create_task(
        _collect(watch_job(handle.job_id, service.bus, service.stored_events, recheck_s=0.05))
    )
    transcriber.release.set()
    await run
    events = await asyncio.wait_for(watcher, 30)
    assert events[-1].status == "succeeded"
    assert [e.seq for e in events] == list(range(len(events)))


async def _collect(stream) -> list[JobEvent]:
    return [e async for e in stream]


async def test_watching_an_unknown_job_is_not_found(database, tmp_path):
    from core.errors import NotFoundError

    service = service_for(database, tmp_path)
    with pytest.raises(NotFoundError):
        await _collect(watch_job("nope", service.bus, service.stored_events))


async def test_the_queue_runs_at_most_job_concurrency_jobs_at_once(database, tmp_path):
    transcriber = CountingTranscriber()
    service = service_for(database, tmp_path, transcriber)
    queue = LocalJobQueue(service, concurrency=2)
    await queue.start()
    try:
        for i in range(3):
            handle, _ = service.submit(recording(tmp_path, f"c{i}.wav"))
            await queue.enqueue(handle.job_id)
        assert await transcriber.until(lambda: transcriber.running == 2)
        stats = await queue.stats()
        assert stats["running"] == 2 and stats["queued"] == 1
        transcriber.release.set()
        await asyncio.wait_for(queue.join(), 30)
    finally:
        await queue.stop()
    assert transcriber.most == 2
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(CallRow)) == 3


async def test_jobs_left_running_by_a_dead_process_run_again_once(database, tmp_path):
    service = service_for(database, tmp_path)
    crashed, _ = service.submit(recording(tmp_path, "a.wav"))
    waiting, _ = service.submit(recording(tmp_path, "b.wav"))
    with database.session() as s:  # the dead process had started the first job
        JobRepository(s).start(crashed.job_id)
    queue = LocalJobQueue(service, concurrency=1)
    await queue.start()
    try:
        await asyncio.wait_for(queue.join(), 30)
    finally:
        await queue.stop()
    with database.session() as s:
        first, second = s.get(JobRow, crashed.job_id), s.get(JobRow, waiting.job_id)
        assert (first.status, first.attempts) == ("succeeded", 2)
        assert (second.status, second.attempts) == ("succeeded", 1)
        assert s.scalar(select(func.count()).select_from(CallRow)) == 2
    messages = [e.message for e in service.stored_events(crashed.job_id)]
    assert any("queued again" in m for m in messages)
    # running a finished job again stores nothing twice
    await service.execute(crashed.job_id)
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(CallRow)) == 2


async def test_a_job_that_keeps_killing_its_process_is_failed_not_run_forever(database, tmp_path):
    """A file that crashes the process at every attempt: after JOB_MAX_ATTEMPTS starts the
    restart fails the job with the reason and removes its audio; the server stays up."""
    service = service_for(database, tmp_path)
    service.max_attempts = 3
    handle, _ = service.submit(recording(tmp_path, "crashes.wav"))
    stored = Path(service._job(handle.job_id).audio_path)
    for restart in range(3):  # each process started the job, then died with it
        with database.session() as s:
            JobRepository(s).start(handle.job_id)
        queue = LocalJobQueue(service, concurrency=1)
        recovered = await asyncio.to_thread(queue._recover)
        assert recovered == ([handle.job_id] if restart < 2 else [])
    with database.session() as s:
        job = s.get(JobRow, handle.job_id)
        assert (job.status, job.attempts) == ("failed", 3)
        assert "stopped 3 times" in job.error and "not run again" in job.error
        assert s.scalar(select(func.count()).select_from(CallRow)) == 0
    assert not stored.exists()
    assert service.stored_events(handle.job_id)[-1].status == "failed"


async def test_a_cancelled_job_goes_back_to_the_queue_with_its_audio(database, tmp_path):
    transcriber = CountingTranscriber()
    service = service_for(database, tmp_path, transcriber)
    handle, _ = service.submit(recording(tmp_path))
    run = asyncio.create_task(service.execute(handle.job_id))
    assert await transcriber.until(lambda: transcriber.running)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    transcriber.release.set()
    with database.session() as s:
        job = s.get(JobRow, handle.job_id)
        assert job.status == "queued" and Path(job.audio_path).is_file()
        assert s.scalar(select(func.count()).select_from(CallRow)) == 0


class OutageTranscriber(FakeTranscriber):
    """A remote ASR stage that is down for its first ``down`` calls."""

    def __init__(self, down: int) -> None:
        super().__init__(WORDS)
        self.down = down
        self.calls = 0

    async def transcribe(self, samples, options, progress=None):
        self.calls += 1
        if self.calls <= self.down:
            raise StageUnavailableError("asr", "the asr service at x:1 is unavailable", "hint")
        return await super().transcribe(samples, options, progress)


def job_row(database) -> JobRow:
    with database.session() as s:
        return s.scalars(select(JobRow)).one()


async def test_a_stage_outage_defers_the_job_with_its_audio_then_it_succeeds(database, tmp_path):
    transcriber = OutageTranscriber(down=1)
    service = service_for(database, tmp_path, transcriber)
    service.retry_delay_s = 0.0
    handle, _ = service.submit(recording(tmp_path), filename="call.wav")
    with pytest.raises(JobDeferred) as deferred:
        await service.execute(handle.job_id)
    assert deferred.value.delay_s == 0.0
    row = job_row(database)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.message == "asr unavailable; attempt 1 of 3, next in 0 s"
    assert Path(row.audio_path).exists()  # kept for the next attempt

    document = await service.execute(handle.job_id)  # the stage is back
    assert document["utterances"] and job_row(database).status == "succeeded"
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(CallRow)) == 1


async def test_the_deferral_delay_doubles_and_the_last_attempt_fails_the_job(database, tmp_path):
    service = service_for(database, tmp_path, OutageTranscriber(down=99))
    service.retry_delay_s, service.max_attempts = 5.0, 3
    handle, _ = service.submit(recording(tmp_path), filename="call.wav")
    delays = []
    for _ in range(2):
        with pytest.raises(JobDeferred) as deferred:
            await service.execute(handle.job_id)
        delays.append(deferred.value.delay_s)
    assert delays == [5.0, 10.0]
    with pytest.raises(StageUnavailableError):
        await service.execute(handle.job_id)
    row = job_row(database)
    assert (row.status, row.attempts) == ("failed", 3) and "asr service" in row.error
    assert not Path(row.audio_path).exists()


async def test_the_cli_path_does_not_defer(database, tmp_path):
    service = service_for(database, tmp_path, OutageTranscriber(down=1))
    with pytest.raises(StageUnavailableError):
        await service.analyze_file(recording(tmp_path))
    assert job_row(database).status == "failed"


async def test_the_local_queue_runs_a_deferred_job_again(database, tmp_path):
    transcriber = OutageTranscriber(down=1)
    service = service_for(database, tmp_path, transcriber)
    service.retry_delay_s = 0.0
    queue = LocalJobQueue(service)
    await queue.start()
    try:
        handle, _ = service.submit(recording(tmp_path), filename="call.wav")
        events = watch_job(handle.job_id, service.bus, service.stored_events)
        await queue.enqueue(handle.job_id)
        async with asyncio.timeout(30):
            statuses = [e.status async for e in events]
        assert statuses.count("queued") == 2  # submitted, then deferred once
        assert statuses[-1] == "succeeded" and transcriber.calls == 2
    finally:
        await queue.stop()


class _Raising:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    async def execute(self, job_id: str, trace_context: object = None) -> None:
        raise self.exc


async def test_an_arq_job_that_met_an_unreachable_database_is_retried_not_failed():
    from arq import Retry

    from bootstrap.worker import DATABASE_RETRY_S, run_analysis_job
    from core.errors import DatabaseUnavailableError, InvalidInputError

    down = _Raising(DatabaseUnavailableError("The database cannot be reached."))
    with pytest.raises(Retry) as retry:
        await run_analysis_job({"service": down}, "job-1")
    assert retry.value.defer_score == DATABASE_RETRY_S * 1000
    bad = _Raising(InvalidInputError("not audio"))
    assert await run_analysis_job({"service": bad}, "job-2") == "failed"
