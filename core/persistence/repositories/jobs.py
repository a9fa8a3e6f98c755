"""The job aggregate: a job's row and its event log (``job_events``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.jobs.events import JobEvent
from core.persistence.models import JobEventRow, JobRow, utcnow
from core.persistence.repositories.common import as_utc


class JobRepository:
    """Job rows and their event log. Every state change is also an event (``job_events``)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        job_id: str,
        call_id: str,
        filename: str,
        options: dict[str, Any],
        audio_path: str | None,
        *,
        kind: str = "analyze",
        submitted_by: str | None = None,
        agent: str | None = None,
        metadata: dict[str, Any] | None = None,
        content_sha256: str | None = None,
    ) -> JobEvent:
        """Queue a job. ``metadata`` (checked, core/calls/metadata.py) goes to its call."""
        row = JobRow(
            id=job_id,
            call_id=call_id,
            filename=filename,
            kind=kind,
            status="queued",
            progress=0.0,
            message="queued",
            options=options,
            audio_path=audio_path,
            attempts=0,
            submitted_by=submitted_by,
            agent=agent,
            meta=metadata or None,
            external_id=(metadata or {}).get("external_id"),
            content_sha256=content_sha256,
            created_at=utcnow(),
        )
        self.session.add(row)
        self.session.flush()
        return self._event(row, "queued", 0.0, "queued")

    def get(self, job_id: str) -> JobRow | None:
        return self.session.get(JobRow, job_id)

    def pending_like(self, external_id: str | None, content_sha256: str) -> JobRow | None:
        """A queued or running analysis of the same call (external id) or the same audio."""
        same = JobRow.content_sha256 == content_sha256
        if external_id:
            same = or_(same, JobRow.external_id == external_id)
        return self.session.scalars(
            select(JobRow)
            .where(JobRow.kind == "analyze", JobRow.status.in_(("queued", "running")), same)
            .order_by(JobRow.created_at)
            .limit(1)
        ).first()

    def start(self, job_id: str, worker: str = "") -> JobEvent:
        job = self._require(job_id)
        job.status = "running"
        job.attempts += 1
        job.started_at = utcnow()
        job.error = None
        where = f" on {worker}" if worker else ""
        return self._event(job, "start", 0.0, f"attempt {job.attempts}{where}")

    def progress(self, job_id: str, stage: str, progress: float, message: str) -> JobEvent:
        job = self._require(job_id)
        job.stage = stage
        job.progress = progress
        job.message = message
        return self._event(job, stage, progress, message)

    def finish(self, job_id: str, *, error: str | None = None) -> JobEvent:
        job = self._require(job_id)
        job.status = "failed" if error else "succeeded"
        job.error = error
        job.progress = job.progress if error else 1.0
        job.message = error or "done"
        job.finished_at = utcnow()
        return self._event(job, "done", 1.0, job.message)

    def requeue(self, job_id: str, reason: str) -> JobEvent:
        """Put an interrupted job back in the queue (its next attempt starts from scratch)."""
        job = self._require(job_id)
        job.status = "queued"
        job.stage = None
        job.progress = 0.0
        job.message = reason
        return self._event(job, "queued", 0.0, reason)

    def unfinished(self, statuses: tuple[str, ...] = ("queued", "running")) -> list[JobRow]:
        return list(
            self.session.scalars(
                select(JobRow).where(JobRow.status.in_(statuses)).order_by(JobRow.created_at)
            )
        )

    def newest(self, statuses: Sequence[str] = (), *, limit: int) -> list[JobRow]:
        """The ``limit`` newest jobs (then by id, descending), only those in ``statuses``
        when any are given."""
        query = select(JobRow).order_by(JobRow.created_at.desc(), JobRow.id.desc()).limit(limit)
        if statuses:
            query = query.where(JobRow.status.in_(statuses))
        return list(self.session.scalars(query))

    def for_call(self, call_id: str) -> list[JobRow]:
        return list(
            self.session.scalars(
                select(JobRow).where(JobRow.call_id == call_id).order_by(JobRow.created_at)
            )
        )

    def delete_for_call(self, call_id: str) -> None:
        ids = select(JobRow.id).where(JobRow.call_id == call_id)
        self.session.execute(delete(JobEventRow).where(JobEventRow.job_id.in_(ids)))
        self.session.execute(delete(JobRow).where(JobRow.call_id == call_id))

    def events(self, job_id: str, after: int = -1) -> list[JobEvent]:
        """The job's events with ``seq > after``, in order. NotFoundError for an unknown job."""
        self._require(job_id)
        rows = self.session.scalars(
            select(JobEventRow)
            .where(JobEventRow.job_id == job_id, JobEventRow.seq > after)
            .order_by(JobEventRow.seq)
        )
        return [
            JobEvent(job_id, r.seq, r.stage, r.progress, r.message, r.status, as_utc(r.at))
            for r in rows
        ]

    def _event(self, job: JobRow, stage: str, progress: float, message: str) -> JobEvent:
        last = self.session.scalar(
            select(func.max(JobEventRow.seq)).where(JobEventRow.job_id == job.id)
        )
        row = JobEventRow(
            job_id=job.id,
            seq=0 if last is None else last + 1,
            stage=stage,
            progress=progress,
            message=message,
            status=job.status,
            at=utcnow(),
        )
        self.session.add(row)
        self.session.flush()
        return JobEvent(job.id, row.seq, stage, progress, message, job.status, row.at)

    def _require(self, job_id: str) -> JobRow:
        job = self.get(job_id)
        if job is None:
            raise NotFoundError(f"No job {job_id}.", "Check the job id returned by the upload.")
        return job
