"""/v1/calls: upload, list, read, export, download, delete and re-analyse calls."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse

from api.auth import Admin, Analyst
from api.rest.deps import RuntimeDep
from api.rest.downloads import attachment, audio_media_type, safe_filename
from api.rest.rendered import Rendered
from api.rest.schemas import (
    Accepted,
    AnalysisOptionsIn,
    CallCategories,
    CallPage,
    CallSummary,
    error_responses,
)
from api.rest.uploads import (
    BatchAccepted,
    BatchIn,
    BatchItem,
    UploadIn,
    batch_answer,
    batch_metadata,
    item_for,
    job_links,
    metadata_filter,
)
from api.runtime import Runtime
from api.submission import (
    client_name,
    reanalyze,
    submit_upload,
    validate_agent,
    validate_options,
)
from core.analysis.schema import CallDocument
from core.calls.audit import CallAudit
from core.calls.catalog import MAX_PAGE, CallFilters, SentimentFilter
from core.calls.exports import MEDIA_TYPES, ExportFormat, render_transcript
from core.calls.metadata import merge, parse_metadata
from core.calls.metadata_filter import MetadataPairs
from core.domain import Resolution
from core.errors import InvalidInputError, NotFoundError
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
    metadata: Annotated[MetadataPairs, Depends(metadata_filter)] = (),
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
        metadata=metadata,
    )


def accepted(request: Request, response: Response, handle: JobHandle) -> Accepted:
    """The 202 answer for a queued job, its status URL in ``Location``; 200 with
    ``duplicate`` for the earlier job of the same call or audio (nothing queued).

    The links are paths on this server, or absolute under ``PUBLIC_URL`` when it is set:
    never built from the request's ``Host`` header, which the client chooses."""
    links = job_links(request, handle)
    response.headers["Location"] = links.job
    if handle.duplicate:
        response.status_code = 200
        return Accepted(
            call_id=handle.call_id,
            job_id=handle.job_id,
            status="duplicate",
            links=links,
            duplicate=True,
        )
    return Accepted(call_id=handle.call_id, job_id=handle.job_id, links=links)


@router.post(
    "",
    status_code=202,
    summary="Upload a call for analysis",
    description="Stores the recording and queues its analysis; follow `links.job`. Audio "
    "that cannot be decoded is refused (415), as is a file over MAX_UPLOAD_MB (413). Needs "
    "the analyst role; limited to RATE_LIMIT_UPLOADS_PER_MIN a minute per key (429). "
    "`metadata` (a JSON object) goes with the call. The same `external_id` or the same "
    "audio already analysed or queued is not analysed again: 200 with `duplicate: true` "
    "and the earlier call's ids, unless `force=true`.",
    responses={200: {"model": Accepted}, **error_responses(413, 415, 429, 507)},
)
async def upload_call(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    principal: Analyst,
    file: Annotated[UploadFile, File(description="The recording (wav, mp3, flac, ogg, m4a…).")],
    options: Annotated[UploadIn, Form()],
) -> Accepted:
    metadata = options.checked_metadata()
    submitted = await submit_upload(
        runtime,
        file,
        file.filename,
        options.to_options(),
        principal=principal,
        metadata=metadata,
        dedupe=not options.force,
    )
    return accepted(request, response, submitted.handle)


@router.post(
    "/batch",
    status_code=202,
    summary="Upload several calls at once",
    description="Each `files` part is taken as one `POST /v1/calls` would take it, with the "
    "same options and `force`, and its own metadata (`metadata`: a JSON array in the order "
    "of the files, or an object keyed by file name). One item per file: `queued`, "
    "`duplicate` or `error` (with the status that file alone would have had); a bad file "
    "does not stop the others. At most MAX_BATCH_FILES files (422 past it); each file "
    "counts against RATE_LIMIT_UPLOADS_PER_MIN.",
    responses=error_responses(413),
)
async def upload_batch(
    request: Request,
    runtime: RuntimeDep,
    principal: Analyst,
    files: Annotated[list[UploadFile], File(description="The recordings, one part each.")],
    options: Annotated[BatchIn, Form()],
) -> BatchAccepted:
    cap = runtime.settings.max_batch_files
    if len(files) > cap:
        raise InvalidInputError(
            f"The batch has {len(files)} files; at most {cap} (MAX_BATCH_FILES).",
            "Split it into smaller batches.",
        )
    names = [f.filename or "" for f in files]
    per_file = batch_metadata(options.metadata, names)
    agent = validate_agent(options.agent)
    analysis = options.to_options()
    validate_options(analysis)  # the batch's own options: wrong for every file, so refused
    items: list[BatchItem] = []
    for index, (upload, raw) in enumerate(zip(files, per_file, strict=True)):
        handle, failure = None, None
        try:
            metadata = merge({"agent": agent} if agent else None, parse_metadata(raw))
            submitted = await submit_upload(
                runtime,
                upload,
                upload.filename,
                analysis,
                principal=principal,
                metadata=metadata,
                dedupe=not options.force,
            )
            handle = submitted.handle
        except Exception as exc:  # this file's; the others go on (item_for says which)
            failure = exc
        items.append(item_for(request, index, client_name(upload.filename), handle, failure))
    return batch_answer(items)


@router.get(
    "",
    summary="List calls, newest first",
    responses=error_responses(),
    response_model=CallPage,
)
async def list_calls(
    request: Request,
    runtime: RuntimeDep,
    filters: Annotated[CallFilters, Depends(call_filters)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    cursor: Annotated[
        str | None, Query(description="The `next_cursor` of the previous page.")
    ] = None,
) -> Response:
    # A page read within READ_REFRESH_S is answered on the event loop (CallCatalog.page),
    # and rendered once while it is kept.
    catalog = runtime.catalog
    page = await catalog.page(filters, limit=limit, cursor=cursor)
    response = _pages.response(page, _render_page)
    if catalog.refresh_s > 0:  # the same URL, while this page is kept: api/hot.py answers
        runtime.answers.remember(
            request.scope,
            lambda: catalog.cached_page(filters, limit=limit, cursor=cursor) is page,
            bytes(response.body),
            "list_calls",
        )
    return response


_pages = Rendered()


def _render_page(page: Any) -> bytes:
    return (
        CallPage(
            items=[CallSummary.model_validate(s) for s in page.items],
            next_cursor=page.next_cursor,
            total=page.total,
        )
        .model_dump_json()
        .encode()
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
    # A memory-tier hit is answered here on the event loop; anything else reads in a thread.
    body = runtime.catalog.cached_document_json(call_id)
    if body is None:
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
