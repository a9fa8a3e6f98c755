"""Analysis jobs: submit a recording, run the pipeline on it, store the call.

The job row is the source of truth for a job's state: it is written when the job is
queued, when it starts, at every stage event, and when it ends, and each of these is also
an event row that subscribers replay. The call itself (its row, utterances, vectors,
analysis and metrics) is written in ONE transaction at the end, together with the job's
final state, so a failed or interrupted job never leaves a half-written call behind, and a
job that runs again after a crash never stores its call twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.context import Context

from core.analysis.document import build_document
from core.analysis.pii import silence, write_wav
from core.analysis.pipeline import AnalysisOptions, CallPipeline, CallResult
from core.domain import Audio, AudioInfo, ProgressEvent
from core.errors import (
    CallyticsError,
    DatabaseUnavailableError,
    InvalidInputError,
    JobDeferred,
    NotFoundError,
    StageUnavailableError,
)
from core.jobs.audio_store import AudioStore, file_sha256
from core.jobs.events import EventBus, JobEvent, LocalEventBus
from core.persistence.database import Database
from core.persistence.models import JobRow, utcnow
from core.persistence.repositories import JobRepository, as_utc
from core.persistence.unit_of_work import UnitOfWork
from core.webhooks import events as webhook_events

_tracer = trace.get_tracer("callytics.jobs")

#: The id of the job this task runs (log lines carry it; see bootstrap/tracing.py).
current_job_id: ContextVar[str | None] = ContextVar("callytics_job_id", default=None)

log = logging.getLogger(__name__)

Decoder = Callable[[Path], Audio]
Prober = Callable[[Path], AudioInfo]
CallListener = Callable[[str], None]
EventSink = Callable[[ProgressEvent], None]


class JobObserver(Protocol):
    """Told when a job ends (metrics): outcome succeeded, failed or deferred."""

    def job_ended(
        self, kind: str, outcome: str, seconds: float, document: dict[str, Any] | None
    ) -> None: ...


class QualityScorer(Protocol):
    """Scores a new document's QA checklist (core.analysis.qa.QAScorer)."""

    async def score(self, document: dict[str, Any]) -> dict[str, Any]: ...


WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"  # shown in each job's "start" event


@dataclass(frozen=True)
class JobHandle:
    job_id: str
    call_id: str
    # True when nothing was queued: the same call (external id) or the same audio was
    # already analysed or is being analysed; the ids are that job's and call's.
    duplicate: bool = False


def _progress(job_id: str, event: ProgressEvent, repo: JobRepository) -> JobEvent:
    return repo.progress(job_id, event.stage, event.progress, event.message)


class _EventWriter:
    """Stores and publishes a job's progress events in order, whatever thread emits them.

    Engines report progress from their worker threads; a SQLAlchemy session is not
    thread-safe, so events are handed to the event loop, queued, and written (then
    published) one by one by a single task. :meth:`drain` waits until all are written.
    """

    MIN_STEP = 0.1  # within a stage, store progress at most every 10%

    def __init__(self, service: AnalysisService, job_id: str, forward: EventSink | None) -> None:
        self.service = service
        self.job_id = job_id
        self.forward = forward
        self.loop = asyncio.get_running_loop()
        self.loop_thread = threading.get_ident()
        self.queue: asyncio.Queue[ProgressEvent] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())
        self._last: dict[str, float] = {}

    def __call__(self, event: ProgressEvent) -> None:
        if self.forward:
            self.forward(event)
        if threading.get_ident() == self.loop_thread:
            self.queue.put_nowait(event)
        else:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)

    async def _run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                last = self._last.get(event.stage)
                skip = last is not None and event.progress < 1.0
                if not (skip and event.progress - (last or 0.0) < self.MIN_STEP):
                    self._last[event.stage] = event.progress
                    await self.service.record(partial(_progress, self.job_id, event))
            except Exception:  # progress is best effort; the job's outcome is not
                log.exception("job %s: could not store a progress event", self.job_id)
            finally:
                self.queue.task_done()

    async def drain(self) -> None:
        await asyncio.sleep(0)  # let call_soon_threadsafe hand-offs reach the queue
        await self.queue.join()

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class AnalysisService:
    """Submits, runs, re-runs and deletes analyses. The API, the worker and the CLI share it."""

    def __init__(
        self,
        pipeline: CallPipeline,
        database: Database,
        decoder: Decoder,
        audio_store: AudioStore | None = None,
        *,
        prober: Prober | None = None,
        bus: EventBus | None = None,
        listeners: Iterable[CallListener] = (),
        observers: Iterable[JobObserver] = (),
        keep_audio: bool = True,
        max_attempts: int = 3,
        retry_delay_s: float = 5.0,
        qa: QualityScorer | None = None,
    ) -> None:
        """``qa``: scores each new document's QA checklist (core.analysis.qa.QAScorer), or None."""
        self.pipeline = pipeline
        self.database = database
        self.decoder = decoder
        self.audio_store = audio_store
        self.prober = prober
        self.bus: EventBus = bus or LocalEventBus()
        self.listeners: list[CallListener] = list(listeners)
        self.observers: list[JobObserver] = list(observers)
        self.keep_audio = keep_audio  # False: the recording is removed once analysed
        # A stage service that is down defers the job (its audio kept) this many times.
        self.max_attempts = max(1, max_attempts)
        self.retry_delay_s = retry_delay_s
        self.qa = qa

    # ----------------------------------------------------------------- events
    async def record(
        self,
        change: Callable[[JobRepository], JobEvent],
        also: Callable[[UnitOfWork], object] | None = None,
    ) -> JobEvent:
        """Apply one job change in its own transaction (with ``also``, e.g. its webhook
        event in the outbox), then publish its event."""
        event = await asyncio.to_thread(self._commit, change, also)
        await self.publish(event)
        return event

    def _commit(
        self,
        change: Callable[[JobRepository], JobEvent],
        also: Callable[[UnitOfWork], object] | None = None,
    ) -> JobEvent:
        with UnitOfWork(self.database) as uow:
            event = change(uow.jobs)
            if also is not None:
                also(uow)
            return event

    async def publish(self, event: JobEvent) -> None:
        try:
            await self.bus.publish(event)
        except Exception as exc:  # subscribers fall back to the table
            log.warning("could not publish job event %s/%s: %s", event.job_id, event.seq, exc)

    def stored_events(self, job_id: str, after: int = -1) -> list[JobEvent]:
        with UnitOfWork(self.database) as uow:
            return uow.jobs.events(job_id, after)

    def changed(self, call_id: str) -> None:
        for listener in self.listeners:
            try:
                listener(call_id)
            except Exception:
                log.exception("call %s: a change listener failed", call_id)

    def _ended(
        self, job: JobRow, outcome: str, started: float, document: dict[str, Any] | None = None
    ) -> None:
        for observer in self.observers:
            try:
                observer.job_ended(job.kind, outcome, time.perf_counter() - started, document)
            except Exception:
                log.exception("job %s: an observer failed", job.id)

    # ----------------------------------------------------------------- submit
    def submit(
        self,
        path: Path,
        *,
        filename: str | None = None,
        options: AnalysisOptions | None = None,
        move: bool = False,
        submitted_by: str | None = None,
        agent: str | None = None,
        metadata: dict[str, Any] | None = None,
        dedupe: bool = False,
    ) -> tuple[JobHandle, JobEvent | None]:
        """Check the recording, keep it, and queue a job for it. Bad input raises before
        anything is stored. ``move`` hands the file over (an upload's temporary file);
        ``submitted_by`` becomes the call's ``created_by``; ``metadata`` (checked by
        core.calls.metadata) goes with the call, ``agent`` into it.

        With ``dedupe``, a call already analysed (or queued) with the same ``external_id``
        or the same audio is not queued again: its handle comes back with ``duplicate``
        set and no event, and nothing is stored."""
        path = Path(path)
        # The stored file's extension is the detected container's, not the client's.
        suffix = self.prober(path).suffix if self.prober is not None else path.suffix
        metadata = dict(metadata or {})
        agent = agent or metadata.get("agent")
        if agent:
            metadata["agent"] = agent
        sha = file_sha256(path)
        if dedupe and (same := self.find_same(metadata.get("external_id"), sha)) is not None:
            return same, None
        handle = JobHandle(job_id=str(uuid.uuid4()), call_id=str(uuid.uuid4()))
        name = filename or path.name
        stored: Path | None = None
        if self.audio_store is not None:
            stored = self.audio_store.put(handle.call_id, path, suffix=suffix, move=move)
        try:
            with UnitOfWork(self.database) as uow:
                event = uow.jobs.create(
                    handle.job_id,
                    handle.call_id,
                    name,
                    asdict(options or AnalysisOptions()),
                    str(stored or path.resolve()),
                    submitted_by=submitted_by,
                    agent=agent,
                    metadata=metadata,
                    content_sha256=sha,
                )
        except BaseException:
            if self.audio_store is not None:
                self.audio_store.remove(stored)
            raise
        return handle, event

    def find_same(self, external_id: str | None, content_sha256: str) -> JobHandle | None:
        """The call (or queued job) with this external id or this audio, if there is one."""
        with UnitOfWork(self.database) as uow:
            call = uow.calls.same_as(external_id, content_sha256)
            if call is not None:
                return JobHandle(job_id=call.job_id or "", call_id=call.id, duplicate=True)
            job = uow.jobs.pending_like(external_id, content_sha256)
            if job is not None:
                return JobHandle(job_id=job.id, call_id=job.call_id, duplicate=True)
        return None

    def reanalyze(
        self,
        call_id: str,
        options: AnalysisOptions | None = None,
        submitted_by: str | None = None,
    ) -> JobHandle:
        """Queue a new job that analyses a stored call's audio again and replaces the call;
        ``submitted_by`` becomes its ``updated_by``."""
        with UnitOfWork(self.database) as uow:
            call = uow.calls.get(call_id)
            if call is None:
                raise uow.calls.missing(call_id)
            if not call.audio_path or not Path(call.audio_path).is_file():
                raise InvalidInputError(
                    f"Call {call_id} has no stored audio to analyse again.",
                    "Upload the recording again (STORE_AUDIO=true keeps it).",
                )
            handle = JobHandle(job_id=str(uuid.uuid4()), call_id=call_id)
            uow.jobs.create(
                handle.job_id,
                call_id,
                call.filename,
                asdict(options or AnalysisOptions()),
                call.audio_path,
                kind="reanalyze",
                submitted_by=submitted_by,
                agent=call.agent,
                metadata=call.meta,
                content_sha256=call.content_sha256,
            )
        return handle

    # ----------------------------------------------------------------- run
    async def execute(
        self,
        job_id: str,
        on_event: EventSink | None = None,
        *,
        defer: bool = True,
        trace_context: Context | None = None,
    ) -> dict[str, Any]:
        """Run a queued (or interrupted) job to its end and return the call's document.

        A job that already succeeded is not run again. A job that fails is marked failed
        with the reason and raises. A cancelled job (shutdown) goes back to the queue. A job
        that found a stage service unavailable goes back to the queue too and raises
        :class:`JobDeferred` (with ``defer``, up to ``max_attempts``), its audio kept.
        ``trace_context`` (the submitter's) makes the job's span part of its trace.
        """
        job = await asyncio.to_thread(self._job, job_id)
        token = current_job_id.set(job_id)
        try:
            with _tracer.start_as_current_span(
                f"job {job.kind}",
                context=trace_context,
                attributes={"job.id": job.id, "call.id": job.call_id, "job.kind": job.kind},
            ):
                return await self._execute(job, on_event, defer=defer)
        finally:
            current_job_id.reset(token)

    async def _execute(
        self, job: JobRow, on_event: EventSink | None, *, defer: bool
    ) -> dict[str, Any]:
        job_id = job.id
        if job.status == "succeeded":
            with UnitOfWork(self.database) as uow:
                document = uow.calls.document(job.call_id)
            if document is not None:
                return document
        # The call's team (its metadata) picks the team's custom vocabulary, at job time.
        team = (job.meta or {}).get("team")
        options = AnalysisOptions(**{**job.options, "team": str(team) if team else None})
        started = time.perf_counter()
        emit = on_event or (lambda _e: None)
        await self.record(lambda repo: repo.start(job_id, WORKER_ID))
        writer = _EventWriter(self, job_id, emit)
        audio_path = Path(job.audio_path or "")
        try:
            writer(ProgressEvent("decode", 0.0, f"decoding {job.filename}"))
            audio = await asyncio.to_thread(self.decoder, audio_path)
            info = audio.info
            writer(ProgressEvent("decode", 1.0, f"{info.duration_s:.1f}s, {info.channels} ch"))
            result = await self.pipeline.run(audio, options, writer)
            await writer.drain()
            document = build_document(job.call_id, job.filename, utcnow(), result)
            if self.qa is not None:
                document["qa"] = await self.qa.score(document)
            # Hashed when the job was submitted; a job queued before that was recorded
            # (an older version) is hashed now.
            sha = job.content_sha256
            if sha is None:
                sha = await asyncio.to_thread(file_sha256, audio_path)
            redacted = await asyncio.to_thread(self._redacted_audio, job, audio, result)
            try:
                final = await asyncio.to_thread(
                    self._store, job.id, job.call_id, job.kind, document, sha, result, redacted
                )
            except BaseException:
                self.discard_audio(redacted)
                raise
            if redacted is not None and redacted != job.audio_path:
                self.discard_audio(job.audio_path)  # only the redacted recording is kept
        except asyncio.CancelledError:
            await writer.close()
            await asyncio.shield(
                self.record(lambda repo: repo.requeue(job_id, "interrupted; queued again"))
            )
            raise
        except StageUnavailableError as exc:
            await writer.drain()
            await writer.close()
            attempt = job.attempts + 1  # start() counted this attempt in the row, not in job
            if not defer or attempt >= self.max_attempts:
                await self._fail(job, str(exc))
                self._ended(job, "failed", started)
                raise
            # Not the call's fault: keep its audio and run it again once the stage is back.
            delay = self.retry_delay_s * 2 ** (attempt - 1)
            reason = f"{exc.stage} unavailable; attempt {attempt} of {self.max_attempts}, next in {delay:.0f} s"
            log.warning("job %s deferred: %s", job_id, exc)
            await self.record(lambda repo: repo.requeue(job_id, reason))
            self._ended(job, "deferred", started)
            raise JobDeferred(job_id, delay, str(exc)) from exc
        except DatabaseUnavailableError:
            # Not the call's fault either, and the job row cannot be written now: it stays
            # as it is, with its audio, and the queue runs it again once the database answers.
            with contextlib.suppress(Exception):
                await writer.close()
            self._ended(job, "deferred", started)
            raise
        except BaseException as exc:
            await writer.drain()
            await writer.close()
            reason = str(exc) if isinstance(exc, CallyticsError) else f"{type(exc).__name__}: {exc}"
            await self._fail(job, reason)
            self._ended(job, "failed", started)
            raise
        await writer.close()
        if not self.keep_audio:
            self.discard_audio(job.audio_path)
        # Observers first (custom categories tag the call): a client told the job succeeded
        # finds the call complete.
        self._ended(job, "succeeded", started, document)
        await self.publish(final)
        self.changed(job.call_id)
        return document

    async def _fail(self, job: JobRow, reason: str) -> None:
        log.error("job %s failed: %s", job.id, reason)
        await self.record(
            lambda repo: repo.finish(job.id, error=reason),
            lambda uow: webhook_events.job_failed(uow, job, reason),
        )
        if job.kind == "analyze":
            self.discard_audio(job.audio_path)

    def discard_audio(self, path: str | None) -> None:
        """Remove a recording this service stored (never a file it was merely pointed at)."""
        if self.audio_store is not None and self.audio_store.owns(path):
            self.audio_store.remove(path)

    def _job(self, job_id: str) -> JobRow:
        """The job's row as it is now (read-only: a change goes through :meth:`record`)."""
        with UnitOfWork(self.database) as uow:
            job = uow.jobs.get(job_id)
            if job is None:
                raise NotFoundError(f"No job {job_id}.")
            return job

    def _redacted_audio(self, job: JobRow, audio: Audio, result: CallResult) -> str | None:
        """With PII redaction on, the recording with the redacted words silenced (a WAV next
        to the original, which goes once the call is stored); None otherwise."""
        if result.redactions is None or not self.keep_audio or self.audio_store is None:
            return None
        target = self.audio_store.root / f"{job.call_id}.redacted.wav"
        try:
            write_wav(silence(audio, result.redactions), str(target))
        except OSError as exc:
            target.unlink(missing_ok=True)
            raise self.audio_store.storage_full(exc) or exc from exc
        return str(target)

    def _store(
        self,
        job_id: str,
        call_id: str,
        kind: str,
        document: dict[str, Any],
        sha: str,
        result: CallResult,
        redacted_audio: str | None = None,
    ) -> JobEvent:
        """Write the call and the job's success in one transaction. ``redacted_audio``
        becomes the call's recording instead of the uploaded one."""
        with UnitOfWork(self.database) as uow:
            calls, jobs = uow.calls, uow.jobs
            job = jobs.get(job_id)
            audio_path = redacted_audio or (job.audio_path if job is not None else None)
            actor = job.submitted_by if job is not None else None
            agent = job.agent if job is not None else None
            metadata = (job.meta if job is not None else None) or {}
            document["agent"] = agent
            document["metadata"] = metadata
            created_by = actor
            if kind == "reanalyze":
                old = calls.get(call_id)
                if old is None:
                    raise NotFoundError(f"Call {call_id} was deleted while it was re-analysed.")
                document["created_at"] = as_utc(old.created_at).isoformat()
                created_by = old.created_by
                calls.delete(call_id)
                uow.flush()
            if (
                not self.keep_audio
                or self.audio_store is None
                or not self.audio_store.owns(audio_path)
            ):
                audio_path = None
            calls.add(
                document,
                content_sha256=sha,
                audio_path=audio_path,
                job_id=job_id,
                call_vector=result.call_vector,
                utterance_vectors=result.utterance_vectors,
                created_by=created_by,
                updated_by=actor,
                agent=agent,
                metadata=metadata,
            )
            webhook_events.job_succeeded(uow, job, job_id, document)  # the outbox, same commit
            return jobs.finish(job_id)

    async def analyze_file(
        self,
        path: Path,
        *,
        filename: str | None = None,
        options: AnalysisOptions | None = None,
        on_event: EventSink | None = None,
        metadata: dict[str, Any] | None = None,
        dedupe: bool = False,
    ) -> dict[str, Any]:
        """Analyse one recording now and store it (the CLI). Returns the result document;
        with ``dedupe``, the stored one of the same call or audio when there is one."""
        handle, _ = await asyncio.to_thread(
            self.submit,
            Path(path),
            filename=filename,
            options=options,
            metadata=metadata,
            dedupe=dedupe,
        )
        if handle.duplicate:
            with UnitOfWork(self.database) as uow:
                document = uow.calls.document(handle.call_id)
            if document is not None:
                return document
        return await self.execute(handle.job_id, on_event, defer=False)  # no queue to wait in

    # ----------------------------------------------------------------- delete
    def delete_call(self, call_id: str, deleted_by: str = "local") -> bool:
        """Delete a call's content (utterances, vectors, document), its jobs and its stored
        audio; the row stays as a tombstone that says who deleted it and when."""
        with UnitOfWork(self.database) as uow:
            row = uow.calls.get(call_id)
            if row is None:
                raise uow.calls.missing(call_id)
            audio_path = row.audio_path
            webhook_events.call_deleted(uow, row, deleted_by)
            uow.calls.tombstone(call_id, deleted_by)
            uow.jobs.delete_for_call(call_id)
        self.discard_audio(audio_path)
        self.changed(call_id)
        return True
