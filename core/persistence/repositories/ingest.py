"""The files watched folders took (``ingest_files``; core/ingest/watcher.py)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.persistence.models import IngestFileRow, JobRow, utcnow

#: How a file ended: it is not taken again unless it is put back in the folder.
ENDED = ("done", "duplicate", "failed")


def path_key(root: str, path: str) -> str:
    return hashlib.sha256(f"{root}\0{path}".encode()).hexdigest()


class IngestRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, root: str, path: str, content_sha256: str) -> IngestFileRow | None:
        return self.session.scalars(
            select(IngestFileRow).where(
                IngestFileRow.path_key == path_key(root, path),
                IngestFileRow.content_sha256 == content_sha256,
            )
        ).first()

    def get(self, row_id: int) -> IngestFileRow | None:
        return self.session.get(IngestFileRow, row_id)

    def begin(self, root: str, path: str, content_sha256: str) -> IngestFileRow:
        """The file's row, new or taken afresh (a file put back after it ended), set to
        ``submitting``: written before anything is submitted for it."""
        row = self.find(root, path, content_sha256)
        now = utcnow()
        if row is None:
            row = IngestFileRow(
                root=root,
                path=path,
                path_key=path_key(root, path),
                content_sha256=content_sha256,
                created_at=now,
            )
            self.session.add(row)
        row.status, row.job_id, row.call_id, row.error = "submitting", None, None, None
        row.updated_at = now
        self.session.flush()
        return row

    def update(self, row_id: int, **fields: Any) -> IngestFileRow | None:
        row = self.get(row_id)
        if row is None:
            return None
        for name, value in fields.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        return row

    def submitted_job(
        self, content_sha256: str, since: datetime, submitted_by: str
    ) -> JobRow | None:
        """The analysis job submitted for this audio by ``submitted_by`` since ``since``:
        a submission whose row was not updated (the process stopped in between)."""
        return self.session.scalars(
            select(JobRow)
            .where(
                JobRow.kind == "analyze",
                JobRow.content_sha256 == content_sha256,
                JobRow.submitted_by == submitted_by,
                JobRow.created_at >= since,
            )
            .order_by(JobRow.created_at)
            .limit(1)
        ).first()

    def job_outcomes(self, job_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        """``{job id: (status, error)}`` of the jobs of ``job_ids`` that exist."""
        if not job_ids:
            return {}
        found = self.session.execute(
            select(JobRow.id, JobRow.status, JobRow.error).where(JobRow.id.in_(job_ids))
        )
        return {job_id: (status, error) for job_id, status, error in found}

    def for_root(self, root: str, statuses: tuple[str, ...] = ()) -> list[IngestFileRow]:
        """The folder's rows, oldest first (only those in ``statuses`` when given)."""
        query = select(IngestFileRow).where(IngestFileRow.root == root)
        if statuses:
            query = query.where(IngestFileRow.status.in_(statuses))
        return list(self.session.scalars(query.order_by(IngestFileRow.id)))
