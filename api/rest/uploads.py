"""Uploads with metadata, one file or a batch, and the metadata filter of lists.

``POST /v1/calls`` and ``POST /v1/calls/batch`` (routes in api/rest/calls.py) take the
analysis options plus ``metadata`` (a JSON object; for a batch, a JSON array in file order
or an object keyed by file name) and ``force``. Without ``force`` a recording whose
``external_id`` or audio was already analysed (or queued) is not analysed again: the answer
points at the earlier call (``duplicate: true``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from pydantic import BaseModel, Field

from api.errors import status_for
from api.health import runtime_of
from api.rest.schemas import AnalysisOptionsIn, ErrorDetail, JobLinks
from api.submission import client_name, validate_agent
from core.analysis.pipeline import AnalysisOptions
from core.calls.metadata import HINT, merge, parse_metadata
from core.calls.metadata_filter import MetadataPairs, combine, parse_pairs
from core.errors import CallyticsError, InvalidInputError
from core.jobs.service import JobHandle

log = logging.getLogger(__name__)

METADATA_DESCRIPTION = (
    "The call's metadata as a JSON object: agent, team, queue, direction (inbound or "
    "outbound), customer_id, external_id, started_at (ISO 8601), or any key of your own "
    '(a-z, 0-9, _ or -) to a string, number or boolean; e.g. {"team": "billing", '
    '"external_id": "C-1001"}. The `agent` field, when given, sets metadata.agent.'
)
FORCE_DESCRIPTION = (
    "Analyse again even when the same external_id or the same audio was already analysed "
    "or queued (by default such a call is answered 200 with duplicate: true)."
)


class UploadIn(AnalysisOptionsIn):
    """The form of ``POST /v1/calls``: the analysis options, metadata and ``force``."""

    metadata: str | None = Field(default=None, max_length=20_000, description=METADATA_DESCRIPTION)
    force: bool = Field(default=False, description=FORCE_DESCRIPTION)

    def to_options(self) -> AnalysisOptions:
        return AnalysisOptions(**self.model_dump(exclude={"agent", "metadata", "force"}))

    def checked_metadata(self) -> dict[str, Any]:
        """The metadata with the ``agent`` field merged in (it wins); 422 when bad."""
        agent = validate_agent(self.agent)
        return merge(parse_metadata(self.metadata), {"agent": agent} if agent else None)


class BatchIn(UploadIn):
    """The form of ``POST /v1/calls/batch``: as one upload, but ``metadata`` per file."""

    metadata: str | None = Field(
        default=None,
        max_length=1_000_000,
        description="Per file: a JSON array of metadata objects in the order of the files, or "
        'a JSON object keyed by file name ({"a.wav": {"agent": "a-17"}}). The `agent` field '
        "applies to every file that names none.",
    )


def batch_metadata(raw: str | None, filenames: Sequence[str]) -> list[Any]:
    """Each file's raw metadata (checked later, file by file) from the batch's field.

    The field's own shape is the request's: a wrong shape, a count that differs from the
    files' or a name that is none of theirs is refused (422) before any file is taken."""
    if raw is None or not raw.strip():
        return [None] * len(filenames)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"metadata is not valid JSON ({exc.msg}).", HINT) from exc
    if isinstance(value, list):
        if len(value) != len(filenames):
            raise InvalidInputError(
                f"metadata has {len(value)} entries for {len(filenames)} files.",
                "Send one metadata object per file, in the order of the files.",
            )
        return value
    if isinstance(value, dict):
        names = [client_name(n) for n in filenames]
        if unknown := [k for k in value if k not in names]:
            raise InvalidInputError(
                f"metadata names {unknown[0][:100]!r}, which is not one of the files.",
                "Key the metadata object by the files' names as uploaded.",
            )
        if len(set(names)) != len(names) and value:
            raise InvalidInputError(
                "Two files have the same name, so metadata keyed by name is ambiguous.",
                "Send metadata as a JSON array in the order of the files instead.",
            )
        return [value.get(n) for n in names]
    raise InvalidInputError(
        "Batch metadata must be a JSON array (one object per file) or an object keyed by "
        "file name.",
        HINT,
    )


def job_links(request: Request, handle: JobHandle) -> JobLinks:
    """The links of a job and its call: paths on this server, or absolute under
    ``PUBLIC_URL`` when it is set; never built from the request's ``Host`` header."""
    base = (runtime_of(request).settings.public_url or "").rstrip("/")
    job = base + request.app.url_path_for("get_job", job_id=handle.job_id)
    call = base + request.app.url_path_for("get_call", call_id=handle.call_id)
    return JobLinks(job=job, events=f"{job}?events=true", call=call)


class BatchItemError(ErrorDetail):
    status: int = Field(description="The HTTP status this file alone would have had.")


class BatchItem(BaseModel):
    index: int = Field(description="The file's position in the request, from 0.")
    filename: str
    status: Literal["queued", "duplicate", "error"]
    call_id: str | None = None
    job_id: str | None = None
    links: JobLinks | None = None
    duplicate: bool = False
    error: BatchItemError | None = None


class BatchAccepted(BaseModel):
    """One item per file, in the order of the files."""

    queued: int
    duplicates: int
    errors: int
    items: list[BatchItem]


def item_for(
    request: Request, index: int, filename: str, handle: JobHandle | None, exc: Exception | None
) -> BatchItem:
    if handle is not None:
        return BatchItem(
            index=index,
            filename=filename,
            status="duplicate" if handle.duplicate else "queued",
            call_id=handle.call_id,
            job_id=handle.job_id,
            links=job_links(request, handle),
            duplicate=handle.duplicate,
        )
    if isinstance(exc, CallyticsError):
        error = BatchItemError(
            code=exc.code, message=exc.message, hint=exc.hint, status=status_for(exc)
        )
    else:  # a fault of ours with this one file: said, logged, and the others go on
        log.error("Batch upload: file %d (%s) failed.", index, filename, exc_info=exc)
        error = BatchItemError(
            code="internal_error",
            message="This file could not be taken.",
            hint="Send it again; the server log has the cause.",
            status=500,
        )
    return BatchItem(index=index, filename=filename, status="error", error=error)


def batch_answer(items: list[BatchItem]) -> BatchAccepted:
    count = lambda status: sum(1 for i in items if i.status == status)  # noqa: E731
    return BatchAccepted(
        queued=count("queued"), duplicates=count("duplicate"), errors=count("error"), items=items
    )


# ------------------------------------------------------------------- list filters
MetadataQuery = Annotated[
    list[str] | None,
    Query(
        description="Calls whose metadata has this key:value (exactly, e.g. team:billing); "
        "repeat for more pairs, all must hold.",
    ),
]
TeamQuery = Annotated[
    str | None, Query(max_length=200, description="Same as metadata=team:<value>.")
]
QueueQuery = Annotated[
    str | None, Query(max_length=200, description="Same as metadata=queue:<value>.")
]


def metadata_filter(
    metadata: MetadataQuery = None, team: TeamQuery = None, queue: QueueQuery = None
) -> MetadataPairs:
    """The metadata pairs of a list's query (a FastAPI dependency): 422 with a hint when a
    pair is not key:value."""
    return combine(parse_pairs(metadata), {"team": team, "queue": queue})
