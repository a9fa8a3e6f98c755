"""A live call as REST answers with it; GraphQL's ``LiveCall`` and ``LiveAlert`` derive from
these (strawberry's pydantic integration), so the shape is declared once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from core.analysis import schema


class LiveAlert(BaseModel):
    kind: str = Field(description="`category`, `negative_streak` or `pii`.")
    message: str
    at_s: float = Field(description="How far into the call it was raised (seconds).")
    category: str | None = Field(default=None, description="The category that matched.")
    pii_type: str | None = Field(default=None, description="What kind of PII was said.")
    utterance: int | None = Field(default=None, description="The utterance it is about.")


class LiveCall(BaseModel):
    id: str
    status: str = Field(description="`live`, `dropped` (the client may resume) or `ended`.")
    encoding: str
    sample_rate: int
    channels: int
    agent: str | None
    created_at: datetime
    ended_at: datetime | None
    duration_s: float = Field(description="Audio received so far (seconds).")
    language: str | None
    utterances: list[schema.Utterance] = Field(
        description="The final utterances so far (GET /v1/live leaves them out)."
    )
    alerts: list[LiveAlert]
    metrics: dict[str, Any] | None = Field(description="The running conversation figures.")
    job_id: str | None = Field(description="After hang-up: the post-call analysis job.")
    call_id: str | None = Field(description="After hang-up: the stored call.")
    error: str | None = Field(default=None, description="Why the recording was not analysed.")


def live_call(info: Any, *, utterances: bool = True) -> LiveCall:
    """The view of a :class:`core.live.manager.LiveCallInfo`."""
    snapshot = info.snapshot
    return LiveCall(
        id=info.id,
        status=info.status,
        encoding=info.encoding,
        sample_rate=info.sample_rate,
        channels=info.channels,
        agent=info.agent,
        created_at=info.created_at,
        ended_at=info.ended_at,
        duration_s=info.duration_s,
        language=snapshot.get("language") or None,
        utterances=list(snapshot.get("utterances") or []) if utterances else [],
        alerts=[LiveAlert.model_validate(a) for a in snapshot.get("alerts") or []],
        metrics=snapshot.get("metrics") or None,
        job_id=info.job_id,
        call_id=info.call_id,
        error=snapshot.get("error"),
    )
