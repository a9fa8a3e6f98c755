"""The watched folder over the real job service and queue (fake engines), on SQLite and on
PostgreSQL: each file once, moved when its job ends, and nothing twice across a restart."""

import asyncio
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.errors import ModelNotFoundError
from core.ingest.batch import analyze_now
from core.ingest.sources import FilenamePattern, MetadataSources
from core.ingest.watcher import INGEST_ACTOR, FolderWatcher
from core.jobs.audio_store import file_sha256
from core.jobs.queue import LocalJobQueue
from core.persistence.models import CallRow, IngestFileRow, JobRow
from core.persistence.unit_of_work import UnitOfWork
from tests.unit.jobs.test_service import fake_service


def write(path: Path, data: bytes, sidecar: dict | str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if sidecar is not None:
        text = sidecar if isinstance(sidecar, str) else json.dumps(sidecar)
        path.with_name(path.name + ".json").write_text(text)
    return path


def watcher_for(service, folder: Path, **options) -> FolderWatcher:
    queue = LocalJobQueue(service, claim=lambda job: job.submitted_by == INGEST_ACTOR)
    return FolderWatcher(service, queue, folder, poll_s=0.01, **options)


def jobs(database) -> list[JobRow]:
    with database.session() as s:
        return list(s.scalars(select(JobRow).order_by(JobRow.created_at)))


def calls(database) -> list[CallRow]:
    with database.session() as s:
        return list(s.scalars(select(CallRow)))


def rows(database) -> dict[str, str]:
    with database.session() as s:
        return {r.path: r.status for r in s.scalars(select(IngestFileRow))}


async def test_a_folder_is_read_once_and_each_file_moved_where_it_ended(database, tmp_path):
    folder = tmp_path / "in"
    write(folder / "20261201_a-1_C1.wav", b"call one")
    write(folder / "day2" / "20261202_a-2_C2.wav", b"call two", {"team": "billing"})
    write(folder / "20261203_a-3_C3.wav", b"call three", '{"agent": ')  # a bad sidecar
    write(folder / "20261204_a-4_C4.wav", b"not audio")  # the decoder refuses it
    write(folder / "notes.wav", b"call five")  # does not match the pattern
    write(folder / "20261206_a-6_C6.wav.part", b"call six")  # still being written
    service = fake_service(database, tmp_path)
    pattern = FilenamePattern.compile("{date}_{agent}_{call_id}.wav")
    seen: list[tuple[str, str]] = []
    watcher = watcher_for(
        service,
        folder,
        recursive=True,
        sources=MetadataSources(pattern),
        report=lambda what, name, _detail: seen.append((what, name)),
    )

    tally = await watcher.run()

    assert (tally.analysed, tally.duplicates, tally.failed) == (2, 0, 3)
    done, failed = folder / ".done", folder / ".failed"
    assert sorted(p.relative_to(done).as_posix() for p in done.rglob("*") if p.is_file()) == [
        "20261201_a-1_C1.wav",
        "day2/20261202_a-2_C2.wav",
        "day2/20261202_a-2_C2.wav.json",  # the sidecar goes with its recording
    ]
    errors = {p.name: p.read_text() for p in failed.glob("*.error.txt")}
    assert (
        "sidecar 20261203_a-3_C3.wav.json cannot be read as JSON"
        in errors["20261203_a-3_C3.wav.error.txt"]
    )
    assert "not audio" in errors["20261204_a-4_C4.wav.error.txt"]
    assert "does not match the file-name pattern" in errors["notes.wav.error.txt"]
    assert (failed / "20261203_a-3_C3.wav.json").is_file()
    assert [p.name for p in folder.iterdir() if p.is_file()] == ["20261206_a-6_C6.wav.part"]

    stored = {c.external_id: c for c in calls(database)}
    assert set(stored) == {"C1", "C2"}
    assert stored["C2"].meta == {
        "agent": "a-2",
        "external_id": "C2",
        "started_at": "2026-12-02T00:00:00+00:00",
        "team": "billing",
    }
    assert stored["C2"].agent == "a-2" and stored["C2"].created_by == INGEST_ACTOR
    assert [j.status for j in jobs(database)] == ["succeeded", "succeeded"]
    assert rows(database) == {
        "20261201_a-1_C1.wav": "done",
        "day2/20261202_a-2_C2.wav": "done",
        "20261203_a-3_C3.wav": "failed",
        "20261204_a-4_C4.wav": "failed",
        "notes.wav": "failed",
    }
    assert ("queued", "20261201_a-1_C1.wav") in seen and ("analysed", "notes.wav") not in seen

    # The same recordings put back (under any name): duplicates, moved, nothing analysed.
    write(folder / "20261201_a-1_C1.wav", b"call one")
    write(folder / "20261209_a-9_C9.wav", b"call two")
    again = await watcher_for(service, folder, sources=MetadataSources(pattern)).run()
    assert (again.analysed, again.duplicates, again.failed) == (0, 2, 0)
    assert len(jobs(database)) == 2 and len(calls(database)) == 2
    assert (done / "20261201_a-1_C1-1.wav").is_file()  # the first one's name was taken

    # --force analyses a recording again
    write(folder / "20261201_a-1_C1.wav", b"call one")
    forced = await watcher_for(service, folder, dedupe=False).run()
    assert (forced.analysed, forced.duplicates) == (1, 0) and len(calls(database)) == 3


@pytest.mark.parametrize("force", [False, True])
async def test_a_file_submitted_just_before_a_kill_is_not_submitted_again(
    database, tmp_path, force
):
    """The process died after the job was written but before the file's row said so."""
    folder = tmp_path / "in"
    call = write(folder / "call.wav", b"call one", {"agent": "a-1"})
    service = fake_service(database, tmp_path)
    with UnitOfWork(database) as uow:
        uow.ingest.begin(str(folder.resolve()), "call.wav", file_sha256(call))
    handle, _ = service.submit(call, submitted_by=INGEST_ACTOR, metadata={"agent": "a-1"})

    tally = await watcher_for(service, folder, dedupe=not force).run()

    assert tally.analysed == 1
    assert [(j.id, j.status) for j in jobs(database)] == [(handle.job_id, "succeeded")]
    assert [c.id for c in calls(database)] == [handle.call_id]
    assert (folder / ".done" / "call.wav").is_file() and not call.exists()


async def test_a_job_the_kill_interrupted_is_resumed_and_a_servers_job_left_alone(
    database, tmp_path
):
    folder = tmp_path / "in"
    call = write(folder / "call.wav", b"call one")
    service = fake_service(database, tmp_path)
    # what a watcher killed mid-job leaves: the file's row says queued, its job running
    with UnitOfWork(database) as uow:
        row = uow.ingest.begin(str(folder.resolve()), "call.wav", file_sha256(call))
    job, _ = service.submit(call, submitted_by=INGEST_ACTOR)
    with UnitOfWork(database) as uow:
        uow.ingest.update(row.id, status="queued", job_id=job.job_id, call_id=job.call_id)
        uow.jobs.start(job.job_id, "a process that is killed now")
    # a server's job on the same database, queued when the server stopped
    other, _ = service.submit(write(tmp_path / "upload.wav", b"upload"))

    tally = await watcher_for(service, folder).run()

    assert tally.analysed == 1 and (folder / ".done" / "call.wav").is_file()
    by_id = {j.id: j for j in jobs(database)}
    assert by_id[job.job_id].status == "succeeded"
    assert by_id[job.job_id].attempts == 2  # resumed, not submitted again
    assert by_id[other.job_id].status == "queued"  # not this watcher's to run
    assert len(by_id) == 2 and not call.exists()


async def test_watching_takes_files_as_they_arrive_and_stops_when_told(database, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    service = fake_service(database, tmp_path)
    stop = asyncio.Event()
    watcher = watcher_for(service, folder)
    task = asyncio.create_task(watcher.run(watch=True, stop=stop))

    async def moved(name: str) -> None:
        deadline = time.monotonic() + 30
        while not (folder / ".done" / name).is_file():
            assert time.monotonic() < deadline, f"{name} was not ingested"
            assert not task.done(), task
            await asyncio.sleep(0.01)  # the interval between two looks

    partial = write(folder / "first.wav.part", b"call one")
    partial.rename(folder / "first.wav")  # how a copier finishes a file
    await moved("first.wav")
    write(folder / "second.wav", b"call two")
    await moved("second.wav")
    stop.set()
    tally = await asyncio.wait_for(task, 30)
    assert tally.analysed == 2 and len(calls(database)) == 2


async def test_a_file_put_back_after_it_failed_is_tried_again(database, tmp_path):
    """Its row (one per file and content) is taken afresh, not read as "already done"."""
    folder = tmp_path / "in"
    write(folder / "call.wav", b"not audio")
    service = fake_service(database, tmp_path)
    assert (await watcher_for(service, folder).run()).failed == 1
    (folder / ".failed" / "call.wav").rename(folder / "call.wav")
    assert (await watcher_for(service, folder).run()).failed == 1  # tried again, not skipped
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(IngestFileRow)) == 1
    assert "not audio" in (folder / ".failed" / "call.wav.error.txt").read_text()
    assert len(jobs(database)) == 0  # the decoder refused it before any job was queued


async def test_the_models_load_once_before_the_first_file_that_needs_them(database, tmp_path):
    folder = tmp_path / "in"
    service = fake_service(database, tmp_path)
    await analyze_now(service, write(tmp_path / "before.wav", b"call one"))
    loads: list[str] = []

    async def load() -> None:
        loads.append("load")

    write(folder / "copy.wav", b"call one")  # a duplicate needs no model
    assert (await watcher_for(service, folder, prepare=load).run()).duplicates == 1
    assert loads == []
    write(folder / "new-1.wav", b"call two")
    write(folder / "new-2.wav", b"call three")
    assert (await watcher_for(service, folder, prepare=load).run()).analysed == 2
    assert loads == ["load"]


async def test_a_missing_model_stops_the_run_and_leaves_the_file_for_the_next(database, tmp_path):
    folder = tmp_path / "in"
    call = write(folder / "call.wav", b"call one")
    service = fake_service(database, tmp_path)

    async def missing() -> None:
        raise ModelNotFoundError("No model 'huge'.", "Set ASR_MODEL to a model you have.")

    with pytest.raises(ModelNotFoundError):
        await watcher_for(service, folder, prepare=missing).run()
    assert call.is_file() and jobs(database) == []
    assert (await watcher_for(service, folder).run()).analysed == 1
    assert len(jobs(database)) == 1 and rows(database) == {"call.wav": "done"}
