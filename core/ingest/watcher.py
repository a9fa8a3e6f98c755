"""A watched folder (``callytics ingest``): each recording put there is analysed once.

Every poll the folder is scanned (:func:`core.ingest.files.recordings`); a recording whose
size and modification time are unchanged since the previous poll is taken: its metadata is
read (:class:`core.ingest.sources.MetadataSources`), it is submitted as a job to the queue
(the in-process one, or arq's with ``JOB_BACKEND=arq``), and once the job has ended it is
moved to the done folder (``.done/``; failures to ``.failed/`` with ``<name>.error.txt``).

Once only, across restarts: a file's row in ``ingest_files`` (keyed by its path and its
audio's SHA-256) is written as ``submitting`` before its job is submitted and says
``queued`` (with the job) after. A file found again at the next start is not submitted
again: its row names its job, whose end is awaited (the queue resumed it if the kill
interrupted it); a row still ``submitting`` is matched with the job submitted for the same
audio since; and the audio-hash dedupe (:meth:`AnalysisService.submit`) finds a recording
already analysed under another name. A file is moved before its row says it ended, so a
stop in between only moves it at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.analysis.pipeline import AnalysisOptions
from core.errors import CallyticsError, InvalidInputError, ModelNotFoundError
from core.ingest.files import Stability, recordings, sidecar_of
from core.ingest.sources import MetadataSources
from core.jobs.audio_store import file_sha256
from core.jobs.events import JobEvent
from core.jobs.queue import JobQueue
from core.jobs.service import AnalysisService
from core.persistence.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

#: The jobs' ``submitted_by`` (the calls' ``created_by``): how a restarted watcher knows
#: its own unfinished jobs from a server's.
INGEST_ACTOR = "ingest"

#: (what happened: queued, resumed, analysed, duplicate, failed or waiting; the file's path
#: in the folder; a detail) for each step, for the command line to print.
Reporter = Callable[[str, str, str], None]


@dataclass
class Tally:
    analysed: int = 0
    duplicates: int = 0
    failed: int = 0
    left: int = 0  # could not be submitted now (e.g. the database is down): left in place


@dataclass(frozen=True)
class _Tracked:
    row_id: int
    path: Path
    job_id: str


@dataclass(frozen=True)
class _Pending:
    row_id: int
    path: Path
    metadata: dict[str, Any]


class FolderWatcher:
    def __init__(
        self,
        service: AnalysisService,
        queue: JobQueue,
        folder: Path,
        *,
        sources: MetadataSources | None = None,
        recursive: bool = False,
        done_dir: Path | None = None,
        failed_dir: Path | None = None,
        poll_s: float = 2.0,
        dedupe: bool = True,
        options: AnalysisOptions | None = None,
        report: Reporter | None = None,
        prepare: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``prepare``: awaited once, before the first file is submitted (the in-process
        queue loads the models: a missing one stops the run before any file is submitted)."""
        self.service = service
        self.queue = queue
        self.root = folder.resolve()
        self.sources = sources or MetadataSources()
        self.recursive = recursive
        self.done_dir = (done_dir or self.root / ".done").resolve()
        self.failed_dir = (failed_dir or self.root / ".failed").resolve()
        self.poll_s = poll_s
        self.dedupe = dedupe
        self.options = options
        self.report: Reporter = report or (lambda _what, _path, _detail: None)
        self.prepare = prepare
        self.tally = Tally()
        self._stability = Stability()
        self._taken: set[Path] = set()  # in flight, or not movable: not taken again here
        self._in_flight: dict[str, _Tracked] = {}
        self._waiting = 0
        self._watch = False

    # ------------------------------------------------------------------ loop
    async def run(self, *, watch: bool = False, stop: asyncio.Event | None = None) -> Tally:
        """Process the folder: until ``stop`` is set with ``watch``, else until every file
        found has ended. Stopping hands a job in flight back to the queue (it runs again at
        the next start) rather than leaving it half done."""
        stop = stop or asyncio.Event()
        self._watch = watch
        await self.queue.start()  # takes over what a previous run left unfinished
        try:
            while not stop.is_set():
                await self.poll(stop)
                if not watch and not self._in_flight and not self._waiting:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_s)
        finally:
            await self.queue.stop()
        return self.tally

    async def poll(self, stop: asyncio.Event | None = None) -> None:
        """One look at the folder: take the files that are fully written, then move those
        whose jobs have ended."""
        exclude = (self.done_dir, self.failed_dir)
        found = await asyncio.to_thread(
            recordings, self.root, recursive=self.recursive, exclude=exclude
        )
        candidates = [p for p in found if p not in self._taken]
        ready = await asyncio.to_thread(self._stability.ready, candidates)
        self._waiting = len(candidates) - len(ready)
        for path in ready:
            if stop is not None and stop.is_set():
                break
            await self.take(path)
        await self._check_jobs()

    async def take(self, path: Path) -> None:
        """Submit one fully written file (or pick up its job from a previous run)."""
        self._taken.add(path)
        try:
            claimed = await asyncio.to_thread(self._claim, path)
            step, event = claimed, None
            if isinstance(claimed, _Pending):
                if self.prepare is not None:  # the first file that needs the models
                    await self.prepare()
                    self.prepare = None
                step, event = await asyncio.to_thread(self._submit, claimed)
        except FileNotFoundError:  # removed before it was taken
            self._taken.discard(path)
            return
        except ModelNotFoundError:  # nothing can be analysed: the command stops
            raise
        except (CallyticsError, OSError) as exc:  # not the file's fault: the database, the disk
            self.report("waiting", self._name(path), str(exc))
            log.warning("%s not submitted: %s", path, exc)
            if self._watch:  # taken again once it is still unchanged at a later poll
                self._taken.discard(path)
                self._stability.forget(path)
            else:
                self.tally.left += 1
            return
        if not isinstance(step, _Tracked):
            return
        self._in_flight[step.job_id] = step
        if event is not None:
            await self.service.publish(event)
            await self.queue.enqueue(step.job_id)
            self.report("queued", self._name(path), f"job {step.job_id}")
        else:
            self.report("resumed", self._name(path), f"job {step.job_id}")

    # ------------------------------------------------------------------ steps
    def _claim(self, path: Path) -> _Tracked | _Pending | None:
        """The file's row: a previous run's job to follow (``_Tracked``), a file to submit
        (``_Pending``), or None when it has ended here (bad metadata, a duplicate)."""
        name = self._name(path)
        sha = file_sha256(path)
        with UnitOfWork(self.service.database) as uow:
            row = uow.ingest.find(str(self.root), name, sha)
            if row is not None and row.status == "queued" and row.job_id:
                return _Tracked(row.id, path, row.job_id)  # a previous run's job
            if row is not None and row.status == "submitting":
                # The previous run stopped while submitting it: was the job written?
                job = uow.ingest.submitted_job(sha, row.updated_at, INGEST_ACTOR)
                if job is not None:
                    uow.ingest.update(row.id, status="queued", job_id=job.id, call_id=job.call_id)
                    return _Tracked(row.id, path, job.id)
            else:  # new, or put back after it ended: taken afresh
                row = uow.ingest.begin(str(self.root), name, sha)
            row_id = row.id
        try:
            metadata = self.sources.metadata(path, self.root)
        except InvalidInputError as exc:
            self._end(row_id, path, "failed", error=str(exc))
            return None
        if self.dedupe:  # found before any model is loaded for it
            same = self.service.find_same(metadata.get("external_id"), sha)
            if same is not None:
                self._end(row_id, path, "duplicate", job_id=same.job_id, call_id=same.call_id)
                return None
        return _Pending(row_id, path, metadata)

    def _submit(self, pending: _Pending) -> tuple[_Tracked | None, JobEvent | None]:
        row_id, path = pending.row_id, pending.path
        try:
            handle, event = self.service.submit(
                path,
                filename=path.name,
                options=self.options,
                submitted_by=INGEST_ACTOR,
                metadata=pending.metadata,
                dedupe=self.dedupe,
            )
        except InvalidInputError as exc:  # the file's fault (not audio, too long)
            self._end(row_id, path, "failed", error=str(exc))
            return None, None
        if handle.duplicate or event is None:
            self._end(row_id, path, "duplicate", job_id=handle.job_id, call_id=handle.call_id)
            return None, None
        with UnitOfWork(self.service.database) as uow:
            uow.ingest.update(row_id, status="queued", job_id=handle.job_id, call_id=handle.call_id)
        return _Tracked(row_id, path, handle.job_id), event

    async def _check_jobs(self) -> None:
        if not self._in_flight:
            return
        ended = await asyncio.to_thread(self._ended_jobs, list(self._in_flight))
        for job_id, error in ended.items():
            tracked = self._in_flight.pop(job_id)
            status = "failed" if error is not None else "done"
            await asyncio.to_thread(self._end, tracked.row_id, tracked.path, status, error=error)

    def _ended_jobs(self, job_ids: list[str]) -> dict[str, str | None]:
        """The jobs of ``job_ids`` that have ended: None for success, else the reason."""
        ended: dict[str, str | None] = {}
        with UnitOfWork(self.service.database) as uow:
            outcomes = uow.ingest.job_outcomes(job_ids)
        for job_id in job_ids:
            status, error = outcomes.get(job_id, ("deleted", None))
            if status == "deleted":
                ended[job_id] = "its job was deleted before it ended"
            elif status == "succeeded":
                ended[job_id] = None
            elif status == "failed":
                ended[job_id] = error or "the job failed"
        return ended

    def _end(
        self,
        row_id: int,
        path: Path,
        status: str,
        *,
        error: str | None = None,
        job_id: str | None = None,
        call_id: str | None = None,
    ) -> None:
        """Move the file (and its sidecar) out of the folder, then say so in its row."""
        name = self._name(path)
        target = self.failed_dir if status == "failed" else self.done_dir
        try:
            moved = move_out(path, self.root, target)
            if error is not None:
                moved.with_name(moved.name + ".error.txt").write_text(error + "\n")
        except OSError as exc:  # stays taken: this run does not take it again
            log.error("%s could not be moved to %s: %s", path, target, exc)
        else:
            self._taken.discard(path)
        fields: dict[str, str | None] = {"status": status, "error": error}
        if job_id is not None:
            fields |= {"job_id": job_id, "call_id": call_id}
        with UnitOfWork(self.service.database) as uow:
            row = uow.ingest.update(row_id, **fields)
            call = row.call_id if row is not None else call_id
        if status == "done":
            self.tally.analysed += 1
            self.report("analysed", name, f"call {call}")
        elif status == "duplicate":
            self.tally.duplicates += 1
            self.report("duplicate", name, f"already analysed as call {call_id}")
        else:
            self.tally.failed += 1
            self.report("failed", name, error or "")

    def _name(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def move_out(path: Path, root: Path, target_root: Path) -> Path:
    """Move ``path`` (and its sidecar JSON) to the same place under ``target_root``; a name
    already taken there gets ``-1``, ``-2``, ... Returns where the recording went."""
    destination = target_root / path.relative_to(root)
    destination.parent.mkdir(parents=True, exist_ok=True)
    number = 0
    while destination.exists():
        number += 1
        destination = destination.with_name(f"{path.stem}-{number}{path.suffix}")
    sidecar = sidecar_of(path)
    shutil.move(path, destination)
    if sidecar is not None:
        if sidecar.name == path.name + ".json":
            shutil.move(sidecar, destination.with_name(destination.name + ".json"))
        else:
            shutil.move(sidecar, destination.with_suffix(".json"))
    return destination
