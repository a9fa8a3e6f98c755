"""The live calls of one process: open, resume, drop, hang up, and hand over to the pipeline.

A call opens with a start message (format, language, agent channel, agent) and gets a live
id; its row in ``live_calls`` says where it stands (``live``, ``dropped``, ``ended``) and
keeps its snapshot (finals, alerts, metrics) for late subscribers and other processes.

- **Hang-up** (the client's ``stop``): the streams are finished, the recording is submitted
  as an ordinary job (the full post-call pipeline, whose stored call replaces the draft:
  search, insights, QA and exports see it like any upload), and ``ended`` carries the job
  and call ids.
- **Drop** (the connection went away without ``stop``): the streams are finished (what was
  said is committed), the recording stays open, and a reconnect with the same live id within
  ``resume_s`` appends to it. After that, the call is hung up as above: what was received is
  analysed, nothing is lost.
- **Restart**: calls left ``live`` or ``dropped`` by a process that stopped are hung up when
  the next one starts (their recordings are on disk, header sizes current).

A session lives in the process that accepted its connection (so a resume must reach the same
process; with several API processes put a sticky load balancer in front of ``/v1/live``).
Its events go out on the live bus, so a subscription can be served by any process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.analysis.pipeline import AnalysisOptions
from core.categories.store import CategoryStore
from core.errors import (
    AudioTooLongError,
    CallyticsError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from core.jobs.events import JobEvent
from core.jobs.service import AnalysisService
from core.live.audio import LiveFormat, WavRecorder
from core.live.events import LiveBus, LiveEvent, LiveEventType
from core.live.session import LiveCategory, LiveOptions, LiveSession
from core.persistence.database import Database
from core.persistence.models import LiveCallRow
from core.persistence.repositories.common import as_utc
from core.persistence.repositories.live import OPEN_STATUSES
from core.persistence.unit_of_work import UnitOfWork
from core.ports import SentimentAnalyzer, StreamingTranscriber, VoiceEmbedder
from core.webhooks import events as webhook_events

log = logging.getLogger(__name__)


TAKEOVER_S = 30.0  # how long a reconnect waits for the old connection to let go


class LiveConflictError(InvalidInputError):
    """The live call cannot take this connection (ended, busy, or on another process)."""

    code = "live_conflict"


@dataclass(frozen=True)
class LiveStart:
    """A start message, checked."""

    format: LiveFormat
    options: LiveOptions
    live_id: str | None = None  # a resume


@dataclass(frozen=True)
class LiveCallInfo:
    id: str
    status: str
    encoding: str
    sample_rate: int
    channels: int
    agent: str | None
    created_by: str | None
    duration_s: float
    job_id: str | None
    call_id: str | None
    created_at: Any
    ended_at: Any
    snapshot: dict[str, Any]
    options: dict[str, Any]
    audio_path: str


def _info(row: LiveCallRow) -> LiveCallInfo:
    return LiveCallInfo(
        id=row.id,
        status=row.status,
        encoding=row.encoding,
        sample_rate=row.sample_rate,
        channels=row.channels,
        agent=row.agent,
        created_by=row.created_by,
        duration_s=row.duration_s,
        job_id=row.job_id,
        call_id=row.call_id,
        created_at=as_utc(row.created_at),
        ended_at=as_utc(row.ended_at) if row.ended_at is not None else None,
        snapshot=dict(row.snapshot or {}),
        options=dict(row.options or {}),
        audio_path=row.audio_path,
    )


Enqueue = Callable[[str], Awaitable[None]]


def started_data(fmt: LiveFormat, agent: str | None) -> dict[str, Any]:
    """The ``started`` event's payload (sent live, and replayed from the row)."""
    return {
        "encoding": fmt.encoding,
        "sample_rate": fmt.sample_rate,
        "channels": fmt.channels,
        "agent": agent,
    }


def ended_data(
    job_id: str | None, call_id: str | None, duration_s: float, error: str | None
) -> dict[str, Any]:
    """The ``ended`` event's payload (sent live, and replayed from the row)."""
    return {"job_id": job_id, "call_id": call_id, "duration_s": duration_s, "error": error}


class LiveManager:
    def __init__(
        self,
        database: Database,
        *,
        transcriber: StreamingTranscriber,
        sentiment: SentimentAnalyzer | None,
        categories: CategoryStore,
        service: AnalysisService,
        enqueue: Enqueue,
        bus: LiveBus,
        storage_dir: Path | str,
        resume_s: float = 30.0,
        max_sessions: int = 8,
        max_seconds: float = 4 * 3600.0,
        voices: VoiceEmbedder | None = None,
    ) -> None:
        self.database = database
        self.transcriber = transcriber
        self.sentiment = sentiment
        self.categories = categories
        self.service = service
        self.enqueue = enqueue
        self.bus = bus
        self.directory = Path(storage_dir) / "live"
        self.resume_s = resume_s
        self.max_sessions = max_sessions
        self.max_seconds = max_seconds
        self.voices = voices  # mono calls' speaker turns
        self.sessions: dict[str, LiveSession] = {}
        self._attached: set[str] = set()
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._ending: dict[str, asyncio.Task[LiveCallInfo]] = {}

    # ------------------------------------------------------------------ reads
    def list_calls(self, *, open_only: bool = True, limit: int = 100) -> list[LiveCallInfo]:
        with UnitOfWork(self.database) as uow:
            rows = uow.live_calls.list(OPEN_STATUSES if open_only else None, limit)
            return [_info(r) for r in rows]

    def get(self, live_id: str) -> LiveCallInfo:
        with UnitOfWork(self.database) as uow:
            row = uow.live_calls.get(live_id)
            if row is None:
                raise NotFoundError(
                    f"No live call {live_id}.",
                    "Start a new call without live_id, or check the id (GET /v1/live).",
                )
            return _info(row)

    # ------------------------------------------------------------------ connections
    async def open(self, start: LiveStart, actor: str) -> tuple[LiveSession, bool]:
        """A new live call, or the resume of a dropped one; (session, resumed)."""
        if start.live_id is not None:
            return await self._resume(start), True
        if len(self.sessions) >= self.max_sessions:
            raise RateLimitedError(
                f"This server already runs {self.max_sessions} live calls.",
                "Hang one up, try again later, or raise LIVE_MAX_SESSIONS.",
            )
        live_id = str(uuid.uuid4())
        path = self.directory / f"{live_id}.wav"
        recorder = await asyncio.to_thread(WavRecorder, path, start.format)
        row = LiveCallRow(
            id=live_id,
            status="live",
            encoding=start.format.encoding,
            sample_rate=start.format.sample_rate,
            channels=start.format.channels,
            options={
                "language": start.options.language,
                "agent_channel": start.options.agent_channel,
                "redact_pii": start.options.redact_pii,
                "metadata": start.options.metadata,
            },
            agent=start.options.agent,
            created_by=actor,
            audio_path=str(path),
            duration_s=0.0,
            snapshot={},
        )
        try:
            await asyncio.to_thread(self._add, row)
            categories = await asyncio.to_thread(self._categories)
        except BaseException:
            recorder.close()
            path.unlink(missing_ok=True)
            raise
        session = LiveSession(
            live_id,
            start.format,
            start.options,
            recorder,
            transcriber=self.transcriber,
            sentiment=self.sentiment,
            categories=categories,
            emit=self.bus.publish,
            save=lambda snapshot, seconds: self._save(live_id, snapshot, seconds),
            actor=actor,
            voices=self.voices,
        )
        self.sessions[live_id] = session
        self._attached.add(live_id)
        try:
            await session.start()
        except BaseException:
            await self._hang_up(session)
            raise
        await session.publish(
            LiveEventType.STARTED, started_data(start.format, start.options.agent)
        )
        return session, False

    async def _resume(self, start: LiveStart) -> LiveSession:
        live_id = str(start.live_id)
        session = self.sessions.get(live_id)
        if session is None:
            info = await asyncio.to_thread(self.get, live_id)  # NotFoundError when unknown
            if info.status == "ended":
                raise LiveConflictError(
                    f"The live call {live_id} has ended.",
                    f"Its recording was analysed: see call {info.call_id}.",
                )
            raise LiveConflictError(
                f"The live call {live_id} is not held by this server.",
                "Reconnect to the server that accepted it (a sticky load balancer).",
            )
        if live_id in self._ending:
            raise LiveConflictError(
                f"The live call {live_id} is ending.", "It cannot take more audio."
            )
        if start.format != session.format:
            raise InvalidInputError(
                "A resumed call must keep its audio format "
                f"({session.format.encoding}, {session.format.sample_rate} Hz, "
                f"{session.format.channels} channels).",
                "Send the same encoding, sample rate and channels as before.",
            )
        if live_id in self._attached:  # the old connection may not know it is dead yet
            session.superseded.set()
            try:
                await asyncio.wait_for(session.released.wait(), TAKEOVER_S)
            except TimeoutError:
                raise LiveConflictError(
                    f"The live call {live_id} is still held by another connection.",
                    "Close it, then reconnect.",
                ) from None
        timer = self._timers.pop(live_id, None)
        if timer is not None:
            timer.cancel()
        self._attached.add(live_id)
        session.superseded = asyncio.Event()
        session.released = asyncio.Event()
        await session.start()
        await asyncio.to_thread(self._update, live_id, status="live")
        await session.publish(LiveEventType.RESUMED, {"received_s": round(session.received_s, 3)})
        return session

    async def feed(self, session: LiveSession, data: bytes) -> None:
        if session.received_s + session.format.seconds(len(data)) > self.max_seconds:
            raise AudioTooLongError(
                f"The live call is longer than the limit of {self.max_seconds / 60:.1f} min.",
                "Hang up; a longer call needs MAX_AUDIO_SECONDS raised.",
            )
        await session.feed(data)

    async def drop(self, session: LiveSession) -> None:
        """The client went away without hanging up: keep the call for ``resume_s``."""
        live_id = session.live_id
        if live_id in self._ending or live_id not in self.sessions:
            return
        try:
            await session.stop()
            await asyncio.to_thread(self._update, live_id, status="dropped")
            await session.publish(
                LiveEventType.DROPPED,
                {"received_s": round(session.received_s, 3), "resume_s": self.resume_s},
            )
            self._timers[live_id] = asyncio.create_task(self._expire(session))
        finally:
            self._attached.discard(live_id)
            session.released.set()

    async def _expire(self, session: LiveSession) -> None:
        await asyncio.sleep(self.resume_s)
        self._timers.pop(session.live_id, None)
        with contextlib.suppress(Exception):
            await self.hang_up(session)

    async def hang_up(self, session: LiveSession) -> LiveCallInfo:
        """End the call: finish the streams, hand the recording to the post-call pipeline."""
        live_id = session.live_id
        self._attached.discard(live_id)
        timer = self._timers.pop(live_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        task = self._ending.get(live_id)
        if task is None:
            task = self._ending[live_id] = asyncio.create_task(self._hang_up(session))
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._ending.pop(live_id, None)

    async def _hang_up(self, session: LiveSession) -> LiveCallInfo:
        live_id = session.live_id
        try:
            await session.stop()
        finally:
            session.recorder.close()
            self.sessions.pop(live_id, None)
        job_id = call_id = error = None
        duration_s = round(session.received_s, 3)
        if session.recorder.data_bytes:
            job_id, call_id, error = await self._analyse(
                session.recorder.path, session.options, session.format, session.actor
            )
        else:
            session.recorder.path.unlink(missing_ok=True)
        await asyncio.to_thread(
            self._update,
            live_id,
            status="ended",
            job_id=job_id,
            call_id=call_id,
            duration_s=duration_s,
            snapshot={**session.snapshot(), "error": error},
        )
        await session.publish(LiveEventType.ENDED, ended_data(job_id, call_id, duration_s, error))
        return await asyncio.to_thread(self.get, live_id)

    async def _analyse(
        self, path: Path, options: LiveOptions, fmt: LiveFormat, actor: str | None
    ) -> tuple[str | None, str | None, str | None]:
        """Submit the recording as an ordinary job: (job id, call id, None), or (None,
        None, why not) when it cannot be (too short to be audio, the disk full); the
        recording is then kept where it is."""
        analysis = AnalysisOptions(
            language=options.language,
            redact_pii=options.redact_pii,
            agent_channel=options.agent_channel if fmt.channels == 2 else None,
        )
        try:
            handle, event = await asyncio.to_thread(
                self.service.submit,
                path,
                filename=f"live-{path.stem}.wav",
                options=analysis,
                move=True,
                submitted_by=actor,
                agent=options.agent,
            )
        except CallyticsError as exc:
            log.warning("live %s: the recording was not submitted: %s", path.stem, exc)
            return None, None, str(exc)
        if event is not None:  # always: a live recording is not deduplicated
            await self._publish_job(event)
        await self.enqueue(handle.job_id)
        return handle.job_id, handle.call_id, None

    async def _publish_job(self, event: JobEvent) -> None:
        try:
            await self.service.publish(event)
        except Exception as exc:
            log.warning("live: could not publish the job's first event (%s)", exc)

    # ------------------------------------------------------------------ process life
    async def recover(self) -> int:
        """Hand over the calls a previous process left open (their recordings are kept)."""
        left = await asyncio.to_thread(self.list_calls)
        count = 0
        for info in left:
            if info.id in self.sessions:
                continue
            path = Path(info.audio_path)
            job_id = call_id = error = None
            options = LiveOptions(
                language=info.options.get("language"),
                agent_channel=int(info.options.get("agent_channel") or 0),
                redact_pii=bool(info.options.get("redact_pii")),
                agent=info.agent,
            )
            fmt = LiveFormat(info.encoding, info.sample_rate, info.channels)  # type: ignore[arg-type]
            if path.is_file() and path.stat().st_size > 64:
                job_id, call_id, error = await self._analyse(path, options, fmt, info.created_by)
            await asyncio.to_thread(
                self._update,
                info.id,
                status="ended",
                job_id=job_id,
                call_id=call_id,
                snapshot={**info.snapshot, "error": error, "recovered": True},
            )
            count += 1
        return count

    async def close(self) -> None:
        """Stopping: every call still held is hung up (its audio analysed, not lost)."""
        for timer in list(self._timers.values()):
            timer.cancel()
        self._timers.clear()
        for session in list(self.sessions.values()):
            with contextlib.suppress(Exception):
                await self.hang_up(session)

    # ------------------------------------------------------------------ storage
    def _add(self, row: LiveCallRow) -> None:
        with UnitOfWork(self.database) as uow:
            uow.live_calls.add(row)

    def _update(self, live_id: str, **fields: Any) -> None:
        """Change the row; alerts new in its snapshot go to the webhook outbox with it."""
        with UnitOfWork(self.database) as uow:
            row = uow.live_calls.get(live_id)
            saved = len((row.snapshot or {}).get("alerts") or []) if row is not None else 0
            row = uow.live_calls.update(live_id, **fields)
            if row is not None and "snapshot" in fields:
                for alert in (fields["snapshot"] or {}).get("alerts", [])[saved:]:
                    webhook_events.live_alert(uow, live_id, row.agent, alert)

    async def _save(self, live_id: str, snapshot: dict[str, Any], seconds: float) -> None:
        try:
            await asyncio.to_thread(
                self._update, live_id, snapshot=snapshot, duration_s=round(seconds, 3)
            )
        except Exception as exc:  # the database is busy or away: the next save catches up
            log.warning("live %s: could not save the snapshot (%s)", live_id, exc)

    def _categories(self) -> list[LiveCategory]:
        return [LiveCategory(c.name, c.description, c.rule()) for c in self.categories.list()]


async def follow_live(
    live_id: str,
    bus: LiveBus,
    stored: Callable[[str], LiveCallInfo],
    *,
    recheck_s: float = 2.0,
) -> AsyncGenerator[LiveEvent, None]:
    """A live call's events for a subscriber: what was stored (its finals and alerts, as
    ``final`` and ``alert`` events, and the metrics), then the bus, ending after ``ended``.
    When the bus is quiet for ``recheck_s`` the row is read again, so a call that ended on a
    process whose events did not reach this one still ends the stream."""
    async with bus.subscribe(live_id) as queue:
        info = await asyncio.to_thread(stored, live_id)
        last = 0
        for event in replay(info):
            last = max(last, event.seq)
            yield event
        if info.status == "ended":
            return
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=recheck_s)
            except TimeoutError:
                info = await asyncio.to_thread(stored, live_id)
                if info.status == "ended":
                    for missed in replay(info):
                        if missed.seq > last or missed.type == LiveEventType.ENDED:
                            yield missed
                    return
                continue
            if event.seq <= last:
                continue
            last = event.seq
            yield event
            if event.terminal:
                return


def replay(info: LiveCallInfo) -> list[LiveEvent]:
    """The stored state of a live call as events, ``ended`` last if it has. They all carry
    the snapshot's seq: anything newer follows from the bus."""
    snapshot = info.snapshot
    at = info.created_at or datetime.now(UTC)
    seq = int(snapshot.get("seq") or 0)
    fmt = LiveFormat(info.encoding, info.sample_rate, info.channels)  # type: ignore[arg-type]
    stored = [
        (LiveEventType.STARTED, started_data(fmt, info.agent)),
        *((LiveEventType.FINAL, {"utterance": u}) for u in snapshot.get("utterances") or []),
        *((LiveEventType.ALERT, {"alert": a}) for a in snapshot.get("alerts") or []),
    ]
    if snapshot.get("metrics"):
        stored.append((LiveEventType.METRICS, {"metrics": snapshot["metrics"]}))
    events = [LiveEvent(info.id, seq, kind, at, data) for kind, data in stored]
    if info.status == "ended":
        ended = ended_data(info.job_id, info.call_id, info.duration_s, snapshot.get("error"))
        events.append(LiveEvent(info.id, seq + 1, LiveEventType.ENDED, info.ended_at or at, ended))
    return events
