"""Repositories own the queries. The caller (job runner, request) owns the transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from core.errors import GoneError, NotFoundError
from core.events import JobEvent
from core.persistence.models import (
    CallCategoryRow,
    CallRow,
    JobEventRow,
    JobRow,
    UtteranceRow,
    utcnow,
)


def to_blob(vector: np.ndarray | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()


def from_blob(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float32)


def topics_text(topics: list[str]) -> str:
    """``|billing|refund|``: lets an exact-topic filter be one portable LIKE."""
    cleaned = [t.strip().lower().replace("|", " ") for t in topics if t and t.strip()]
    return "|" + "|".join(cleaned) + "|" if cleaned else ""


class CallRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        document: dict[str, Any],
        *,
        content_sha256: str,
        audio_path: str | None,
        job_id: str | None,
        call_vector: np.ndarray | None,
        utterance_vectors: np.ndarray | None,
        created_by: str | None = None,
        updated_by: str | None = None,
        agent: str | None = None,
    ) -> CallRow:
        """Stage a whole call (call row + utterances) in the session; the caller commits."""
        analysis = document.get("analysis") or {}
        customer = [
            s["sentiment_mean"]
            for s in document["speakers"]
            if s["role"] == "customer" and s["sentiment_mean"] is not None
        ]
        head = {k: v for k, v in document.items() if k != "utterances"}
        row = CallRow(
            id=document["id"],
            filename=document["filename"],
            created_at=datetime.fromisoformat(document["created_at"]),
            updated_at=utcnow(),
            status=document["status"],
            duration_s=document["audio"]["duration_s"],
            language=document["language"],
            resolution=analysis.get("resolution"),
            conflict=bool((analysis.get("conflict") or {}).get("detected", False)),
            customer_sentiment=float(np.mean(customer)) if customer else None,
            topics=list(analysis.get("topics") or []),
            topics_text=topics_text(analysis.get("topics") or []),
            content_sha256=content_sha256,
            audio_path=audio_path,
            job_id=job_id,
            document=head,
            embedding=to_blob(call_vector),
            created_by=created_by,
            updated_by=updated_by or created_by,
            agent=agent,
        )
        for i, u in enumerate(document["utterances"]):
            sentiment = u.get("sentiment") or {}
            vec = utterance_vectors[i] if utterance_vectors is not None else None
            row.utterances.append(
                UtteranceRow(
                    index=u["index"],
                    speaker=u["speaker"],
                    role=u["role"],
                    start=u["start"],
                    end=u["end"],
                    text=u["text"],
                    sentiment_label=sentiment.get("label"),
                    sentiment_score=sentiment.get("score"),
                    words=u["words"],
                    embedding=to_blob(vec),
                )
            )
        self.session.add(row)
        return row

    def get(self, call_id: str) -> CallRow | None:
        """A live call (not deleted), with its utterances."""
        row = self.session.get(CallRow, call_id, options=[selectinload(CallRow.utterances)])
        return row if row is not None and row.deleted_at is None else None

    def missing(self, call_id: str) -> NotFoundError:
        """The error for a call that is not live: 410 with the audit trail when it was
        deleted, 404 when it never existed."""
        row = self.session.get(CallRow, call_id)
        if row is not None and row.deleted_at is not None:
            return GoneError(
                f"Call {call_id} was deleted by {row.deleted_by or 'unknown'} at "
                f"{as_utc(row.deleted_at).isoformat()}.",
                "Its audio, transcript and vectors are gone; upload the recording again.",
            )
        return NotFoundError(f"No call {call_id}.", "List calls with GET /v1/calls.")

    def document(self, call_id: str) -> dict[str, Any] | None:
        row = self.get(call_id)
        return None if row is None else self.to_document(row)

    @staticmethod
    def to_document(row: CallRow) -> dict[str, Any]:
        doc = dict(row.document)
        doc["utterances"] = [
            {
                "index": u.index,
                "speaker": u.speaker,
                "role": u.role,
                "start": u.start,
                "end": u.end,
                "text": u.text,
                "sentiment": (
                    {"label": u.sentiment_label, "score": u.sentiment_score}
                    if u.sentiment_label is not None
                    else None
                ),
                "words": u.words,
            }
            for u in row.utterances
        ]
        return doc

    def delete(self, call_id: str) -> bool:
        """Remove the row itself (a re-analysis replaces it); deleting a call for a user is
        :meth:`tombstone`."""
        row = self.session.get(CallRow, call_id)
        if row is None:
            return False
        self.session.execute(delete(UtteranceRow).where(UtteranceRow.call_id == call_id))
        self.session.execute(delete(CallRow).where(CallRow.id == call_id))
        return True

    def tombstone(self, call_id: str, actor: str) -> CallRow | None:
        """Delete a call's content (utterances, words, vectors, document, file name) and keep
        only its id and audit fields, with who deleted it and when."""
        row = self.get(call_id)
        if row is None:
            return None
        self.session.execute(delete(UtteranceRow).where(UtteranceRow.call_id == call_id))
        self.session.execute(delete(CallCategoryRow).where(CallCategoryRow.call_id == call_id))
        now = utcnow()
        row.filename = ""
        row.document = {}
        row.embedding = None
        row.topics = []
        row.topics_text = ""
        row.content_sha256 = ""
        row.audio_path = None
        row.resolution = None
        row.customer_sentiment = None
        row.conflict = False
        row.status = "deleted"
        row.updated_at = now
        row.deleted_at = now
        row.deleted_by = actor
        return row


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
    ) -> JobEvent:
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
            created_at=utcnow(),
        )
        self.session.add(row)
        self.session.flush()
        return self._event(row, "queued", 0.0, "queued")

    def get(self, job_id: str) -> JobRow | None:
        return self.session.get(JobRow, job_id)

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


def as_utc(at: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
