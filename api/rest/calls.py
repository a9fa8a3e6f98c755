"""/v1/calls: upload, list, read, export, download, delete and re-analyse calls."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse

from api.auth import Admin, Analyst
from api.health import runtime_of
from api.rest.deps import RuntimeDep
from api.rest.downloads import attachment, audio_media_type, safe_filename
from api.rest.schemas import (
    Accepted,
    AnalysisOptionsIn,
    CallCategories,
    CallPage,
    CallSummary,
    JobLinks,
    error_responses,
)
from api.runtime import Runtime
from api.submission import reanalyze, submit_upload
from core.analysis.schema import CallDocument
from core.calls.audit import CallAudit
from core.calls.catalog import MAX_PAGE, CallFilters, SentimentFilter
from core.calls.exports import MEDIA_TYPES, ExportFormat, render_transcript
from core.domain import Resolution
from core.errors import NotFoundError
from core.jobs.service import JobHandle

router = APIRouter(prefix="/calls", tags=["calls"])


def call_filters(
    topic: Annotated[
        str | None, Query(max_length=200, description="Calls with this topic (any case).")
    ] = None,
    sentiment: Annotated[
        SentimentFilter | None, Query(description="The customer's overall sentiment.")
    ] = None,
    conflict: Annotated[bool | None, Query(description="Whether a conflict was detected.")] = None,
    resolution: Annotated[Resolution | None, Query()] = None,
    created_after: Annotated[
        datetime | None, Query(description="Analysed at or after (ISO 8601; UTC if naive).")
    ] = None,
    created_before: Annotated[
        datetime | None, Query(description="Analysed before (ISO 8601; UTC if naive).")
    ] = None,
    category: Annotated[
        str | None,
        Query(max_length=100, description="Calls tagged with this custom category (its name)."),
    ] = None,
    agent: Annotated[
        str | None,
        Query(max_length=100, description="Calls handled by this agent (as given at upload)."),
    ] = None,
) -> CallFilters:
    return CallFilters(
        topic=topic,
        sentiment=sentiment,
        conflict=conflict,
        resolution=resolution.value if resolution else None,
        created_after=created_after,
        created_before=created_before,
        category=category,
        agent=agent,
    )


def accepted(request: Request, response: Response, handle: JobHandle) -> Accepted:
    """The 202 answer for a queued job, its status URL in ``Location``.

    The links are paths on this server, or absolute under ``PUBLIC_URL`` when it is set:
    never built from the request's ``Host`` header, which the client chooses."""
    base = (runtime_of(request).settings.public_url or "").rstrip("/")
    job = base + request.app.url_path_for("get_job", job_id=handle.job_id)
    call = base + request.app.url_path_for("get_call", call_id=handle.call_id)
    response.headers["Location"] = job
    links = JobLinks(job=job, events=f"{job}?events=true", call=call)
    return Accepted(call_id=handle.call_id, job_id=handle.job_id, links=links)


@router.post(
    "",
    status_code=202,
    summary="Upload a call for analysis",
    description="Stores the recording and queues its analysis; follow `links.job`. Audio "
    "that cannot be decoded is refused (415), as is a file over MAX_UPLOAD_MB (413). Needs "
    "the analyst role; limited to RATE_LIMIT_UPLOADS_PER_MIN a minute per key (429).",
    responses=error_responses(413, 415, 429, 507),
)
async def upload_call(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    principal: Analyst,
    file: Annotated[UploadFile, File(description="The recording (wav, mp3, flac, ogg, m4a…).")],
    options: Annotated[AnalysisOptionsIn, Form()],
) -> Accepted:
    submitted = await submit_upload(
        runtime, file, file.filename, options.to_options(), principal=principal, agent=options.agent
    )
    return accepted(request, response, submitted.handle)


@router.get("", summary="List calls, newest first", responses=error_responses())
async def list_calls(
    runtime: RuntimeDep,
    filters: Annotated[CallFilters, Depends(call_filters)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    cursor: Annotated[
        str | None, Query(description="The `next_cursor` of the previous page.")
    ] = None,
) -> CallPage:
    page = await asyncio.to_thread(runtime.catalog.list, filters, limit=limit, cursor=cursor)
    return CallPage(
        items=[CallSummary.model_validate(s) for s in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )


async def _document(runtime: Runtime, call_id: str) -> dict[str, Any]:
    return await asyncio.to_thread(runtime.catalog.document, call_id)


@router.get(
    "/{call_id}",
    name="get_call",
    summary="One call's analysis",
    responses=error_responses(404, 410),
    response_model=CallDocument,
)
async def get_call(runtime: RuntimeDep, call_id: str) -> Response:
    # The stored JSON goes out as it is: the document was validated when it was built, and
    # re-validating a long call's words on every read would cost more than the read itself.
    body = await asyncio.to_thread(runtime.catalog.document_json, call_id)
    return Response(body, media_type="application/json")


@router.get(
    "/{call_id}/transcript",
    summary="The transcript as JSON, plain text, SRT or WebVTT",
    response_class=Response,
    responses={
        200: {"content": {m.split(";")[0]: {} for m in MEDIA_TYPES.values()}},
        **error_responses(404),
    },
)
async def get_transcript(
    runtime: RuntimeDep,
    call_id: str,
    format: Annotated[ExportFormat, Query(description="json, txt, srt or vtt.")] = "json",
) -> Response:
    document = await _document(runtime, call_id)
    content, media_type = render_transcript(document, format)
    name = f"{safe_filename(Path(document['filename']).stem, 'transcript')}.{format}"
    return Response(content, media_type=media_type, headers=attachment(name))


@router.get(
    "/{call_id}/audio",
    summary="The original recording",
    response_class=FileResponse,
    responses={200: {"content": {"audio/*": {}}}, **error_responses(404)},
)
async def get_audio(runtime: RuntimeDep, call_id: str) -> FileResponse:
    path, filename = await asyncio.to_thread(runtime.catalog.audio, call_id)
    store = runtime.service.audio_store
    if store is None or not store.owns(path):  # only what this server stored, in STORAGE_DIR
        raise NotFoundError(f"Call {call_id} has no stored audio.", "Upload it again.")
    name = safe_filename(filename, f"{call_id}{path.suffix}")
    return FileResponse(path, media_type=audio_media_type(path), headers=attachment(name))


@router.get(
    "/{call_id}/categories",
    summary="The custom categories a call is tagged with",
    responses=error_responses(404, 410),
)
async def get_call_categories(runtime: RuntimeDep, call_id: str) -> CallCategories:
    names = await asyncio.to_thread(runtime.catalog.categories, call_id)
    return CallCategories(call_id=call_id, categories=names)


@router.get(
    "/{call_id}/audit",
    summary="Who created, changed and deleted a call, and when",
    description="Also answers for a deleted call (its tombstone keeps these fields).",
    responses=error_responses(404),
)
async def get_call_audit(runtime: RuntimeDep, call_id: str) -> CallAudit:
    return CallAudit.model_validate(await asyncio.to_thread(runtime.catalog.audit, call_id))


@router.delete(
    "/{call_id}",
    status_code=204,
    summary="Delete a call, its transcript, vectors, jobs and audio",
    description="Needs the admin role. The call's audit fields stay (`GET …/audit`); reading "
    "it afterwards answers 410.",
    responses=error_responses(404, 410),
)
async def delete_call(runtime: RuntimeDep, principal: Admin, call_id: str) -> Response:
    await asyncio.to_thread(runtime.service.delete_call, call_id, principal.actor)
    return Response(status_code=204)


@router.post(
    "/{call_id}/reanalyze",
    status_code=202,
    summary="Analyse a stored call again",
    description="Queues a job that analyses the stored recording again (with new options, "
    "if given) and then replaces the call's analysis; the id and `created_at` stay. Needs "
    "the analyst role.",
    responses=error_responses(404, 410),
)
async def reanalyze_call(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    principal: Analyst,
    call_id: str,
    options: Annotated[AnalysisOptionsIn | None, Body()] = None,
) -> Accepted:
    handle = await reanalyze(
        runtime, call_id, (options or AnalysisOptionsIn()).to_options(), principal=principal
    )
    return accepted(request, response, handle)
