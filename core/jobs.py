"""Analysis jobs: decode, run the pipeline, store the call, and keep the job row current.

The job row is the source of truth for a job's state: it is written when the job starts,
at every stage event, and when it ends. The call itself (its row, utterances, vectors,
analysis and metrics) is written in ONE transaction at the end, together with the job's
final state, so a failed or interrupted job never leaves a half-written call behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.document import build_document
from core.domain import Audio, ProgressEvent
from core.errors import CallyticsError
from core.persistence.database import Database
from core.persistence.models import utcnow
from core.persistence.repositories import CallRepository, JobRepository
from core.pipeline import AnalysisOptions, CallPipeline

log = logging.getLogger(__name__)

Decoder = Callable[[Path], Audio]
EventSink = Callable[[ProgressEvent], None]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class JobHandle:
    job_id: str
    call_id: str


class AudioStore:
    """Keeps the original recording under a generated name (never a client's path)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, call_id: str, source: Path) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        suffix = source.suffix.lower() if source.suffix.lower().isascii() else ""
        target = self.root / f"{call_id}{suffix[:8]}"
        shutil.copyfile(source, target)
        return target

    def remove(self, path: str | Path | None) -> None:
        if path:
            Path(path).unlink(missing_ok=True)


class _EventWriter:
    """Persists progress events on the event loop's thread, whatever thread emits them.

    Engines report progress from their worker threads; a SQLAlchemy session is not
    thread-safe, so events are handed to the loop and written there, in order.
    """

    MIN_STEP = 0.1  # within a stage, store progress at most every 10%

    def __init__(self, database: Database, job_id: str, forward: EventSink | None) -> None:
        self.database = database
        self.job_id = job_id
        self.forward = forward
        self.loop = asyncio.get_running_loop()
        self.loop_thread = threading.get_ident()
        self._last: dict[str, float] = {}

    def __call__(self, event: ProgressEvent) -> None:
        if self.forward:
            self.forward(event)
        if threading.get_ident() == self.loop_thread:
            self._write(event)
        else:
            self.loop.call_soon_threadsafe(self._write, event)

    def _write(self, event: ProgressEvent) -> None:
        last = self._last.get(event.stage)
        if last is not None and event.progress < 1.0 and event.progress - last < self.MIN_STEP:
            return
        self._last[event.stage] = event.progress
        with self.database.session() as session:
            JobRepository(session).progress(self.job_id, event.stage, event.progress, event.message)


class AnalysisService:
    def __init__(
        self,
        pipeline: CallPipeline,
        database: Database,
        decoder: Decoder,
        audio_store: AudioStore | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.database = database
        self.decoder = decoder
        self.audio_store = audio_store

    async def analyze_file(
        self,
        path: Path,
        *,
        filename: str | None = None,
        options: AnalysisOptions | None = None,
        on_event: EventSink | None = None,
    ) -> dict[str, Any]:
        """Analyse one recording and store it. Returns the result document.

        Bad input raises an InvalidInputError before anything is written.
        """
        path = Path(path)
        options = options or AnalysisOptions()
        emit = on_event or (lambda _e: None)
        emit(ProgressEvent("decode", 0.0, f"decoding {path.name}"))
        audio = await asyncio.to_thread(self.decoder, path)
        emit(
            ProgressEvent("decode", 1.0, f"{audio.info.duration_s:.1f}s, {audio.info.channels} ch")
        )
        handle = JobHandle(job_id=str(uuid.uuid4()), call_id=str(uuid.uuid4()))
        with self.database.session() as session:
            JobRepository(session).create(
                handle.job_id, handle.call_id, filename or path.name, asdict(options), None
            )
        return await self.run_job(handle, path, audio, filename or path.name, options, emit)

    async def run_job(
        self,
        handle: JobHandle,
        path: Path,
        audio: Audio,
        filename: str,
        options: AnalysisOptions,
        on_event: EventSink | None = None,
    ) -> dict[str, Any]:
        with self.database.session() as session:
            JobRepository(session).start(handle.job_id)
        writer = _EventWriter(self.database, handle.job_id, on_event)
        stored: Path | None = None
        try:
            result = await self.pipeline.run(audio, options, writer)
            await asyncio.sleep(0)  # let queued progress writes land before the final commit
            document = build_document(handle.call_id, filename, utcnow(), result)
            sha = await asyncio.to_thread(file_sha256, path)
            if self.audio_store is not None:
                stored = await asyncio.to_thread(self.audio_store.put, handle.call_id, path)
            with self.database.session() as session:
                CallRepository(session).add(
                    document,
                    content_sha256=sha,
                    audio_path=str(stored) if stored else None,
                    job_id=handle.job_id,
                    call_vector=result.call_vector,
                    utterance_vectors=result.utterance_vectors,
                )
                JobRepository(session).finish(handle.job_id)
        except BaseException as exc:
            if self.audio_store is not None:
                self.audio_store.remove(stored)
            reason = str(exc) if isinstance(exc, CallyticsError) else f"{type(exc).__name__}: {exc}"
            if isinstance(exc, asyncio.CancelledError):
                reason = "interrupted"
            log.error("job %s failed: %s", handle.job_id, reason)
            with self.database.session() as session:
                JobRepository(session).finish(handle.job_id, error=reason)
            raise
        return document
