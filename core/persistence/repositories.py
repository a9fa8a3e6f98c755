"""Repositories own the queries. The caller (job runner, request) owns the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from core.persistence.models import CallRow, JobEventRow, JobRow, UtteranceRow, utcnow


def to_blob(vector: np.ndarray | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()


def from_blob(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float32)


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
            content_sha256=content_sha256,
            audio_path=audio_path,
            job_id=job_id,
            document=head,
            embedding=to_blob(call_vector),
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
        return self.session.get(CallRow, call_id, options=[selectinload(CallRow.utterances)])

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
        row = self.session.get(CallRow, call_id)
        if row is None:
            return False
        self.session.execute(delete(UtteranceRow).where(UtteranceRow.call_id == call_id))
        self.session.execute(delete(CallRow).where(CallRow.id == call_id))
        return True


class JobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        job_id: str,
        call_id: str,
        filename: str,
        options: dict[str, Any],
        audio_path: str | None,
    ) -> JobRow:
        row = JobRow(
            id=job_id,
            call_id=call_id,
            filename=filename,
            status="queued",
            progress=0.0,
            message="queued",
            options=options,
            audio_path=audio_path,
            attempts=0,
            created_at=utcnow(),
        )
        self.session.add(row)
        return row

    def get(self, job_id: str) -> JobRow | None:
        return self.session.get(JobRow, job_id)

    def start(self, job_id: str) -> None:
        job = self._require(job_id)
        job.status = "running"
        job.attempts += 1
        job.started_at = utcnow()
        job.error = None

    def progress(self, job_id: str, stage: str, progress: float, message: str) -> None:
        job = self._require(job_id)
        job.stage = stage
        job.progress = progress
        job.message = message
        last = self.session.scalar(
            select(func.max(JobEventRow.seq)).where(JobEventRow.job_id == job_id)
        )
        self.session.add(
            JobEventRow(
                job_id=job_id,
                seq=0 if last is None else last + 1,
                stage=stage,
                progress=progress,
                message=message,
                at=utcnow(),
            )
        )

    def finish(self, job_id: str, *, error: str | None = None) -> None:
        job = self._require(job_id)
        job.status = "failed" if error else "succeeded"
        job.error = error
        job.progress = job.progress if error else 1.0
        job.message = error or "done"
        job.finished_at = utcnow()

    def _require(self, job_id: str) -> JobRow:
        job = self.get(job_id)
        if job is None:
            raise KeyError(job_id)
        return job
