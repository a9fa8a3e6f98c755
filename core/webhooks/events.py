"""The events webhooks carry, and how each is put in the outbox.

Every helper here takes the open :class:`~core.persistence.unit_of_work.UnitOfWork` of the
change it reports: the outbox rows commit with that change or not at all (the seed's outbox
pattern), so an event is never lost when the receiver or the API is down, and never sent for
a change that rolled back. The payload is ``{id, type, created_at, data}``; ``data`` carries
ids, the file name, the call's metadata and results, never a transcript or a PII value.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.persistence.models import CallRow, JobRow, utcnow
from core.persistence.unit_of_work import UnitOfWork

JOB_SUCCEEDED = "job.succeeded"
JOB_FAILED = "job.failed"
CALL_DELETED = "call.deleted"
CATEGORY_MATCHED = "category.matched"
LIVE_ALERT = "live.alert"
PING = "ping"  # sent by POST /v1/webhooks/{id}/test only; not subscribable

#: The events an endpoint can subscribe to.
EVENTS = (JOB_SUCCEEDED, JOB_FAILED, CALL_DELETED, CATEGORY_MATCHED, LIVE_ALERT)


def payload(event_id: str, event_type: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "created_at": at.isoformat(), "data": data}


def emit(
    uow: UnitOfWork,
    event_type: str,
    data: dict[str, Any],
    *,
    webhook_ids: Sequence[str] | None = None,
) -> str:
    """Stage the event for its subscribers in ``uow``; its id (the same for every endpoint)."""
    event_id = str(uuid.uuid4())
    at = utcnow()
    uow.webhooks.enqueue(
        event_id, event_type, payload(event_id, event_type, at, data), at, webhook_ids
    )
    return event_id


def _job_data(job: JobRow | None, job_id: str, call_id: str) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "call_id": call_id,
        "kind": job.kind if job is not None else "analyze",
        "filename": job.filename if job is not None else None,
        "metadata": dict((job.meta if job is not None else None) or {}),
    }


def job_succeeded(
    uow: UnitOfWork, job: JobRow | None, job_id: str, document: dict[str, Any]
) -> str:
    analysis = document.get("analysis") or {}
    audio = document.get("audio") or {}
    data = _job_data(job, job_id, str(document.get("id")))
    data.update(
        {
            "filename": document.get("filename") or data["filename"],
            "metadata": dict(document.get("metadata") or data["metadata"]),
            "duration_s": audio.get("duration_s"),
            "language": document.get("language"),
            "summary": analysis.get("summary"),
            "resolution": analysis.get("resolution"),
        }
    )
    return emit(uow, JOB_SUCCEEDED, data)


def job_failed(uow: UnitOfWork, job: JobRow, error: str) -> str:
    return emit(uow, JOB_FAILED, {**_job_data(job, job.id, job.call_id), "error": error})


def call_deleted(uow: UnitOfWork, call: CallRow, deleted_by: str) -> str:
    return emit(
        uow,
        CALL_DELETED,
        {
            "call_id": call.id,
            "filename": call.filename,
            "metadata": dict(call.meta or {}),
            "deleted_by": deleted_by,
        },
    )


def category_matched(
    uow: UnitOfWork,
    call_id: str,
    category_id: str,
    category: str,
    *,
    filename: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> str:
    return emit(
        uow,
        CATEGORY_MATCHED,
        {
            "call_id": call_id,
            "category_id": category_id,
            "category": category,
            "filename": filename,
            "metadata": dict(metadata or {}),
        },
    )


def live_alert(uow: UnitOfWork, live_id: str, agent: str | None, alert: dict[str, Any]) -> str:
    """A live call's alert: its kind (``category``, ``pii``, ``negative_streak``, ...), message
    and time; a ``pii`` alert names the type and where it was said, never what."""
    return emit(uow, LIVE_ALERT, {"live_id": live_id, "agent": agent, "alert": dict(alert)})
