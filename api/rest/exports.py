"""/v1/exports: the calls and their utterances as CSV or Parquet files for BI tools."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from api.rest.calls import call_filters
from api.rest.deps import RuntimeDep
from api.rest.downloads import attachment
from api.rest.schemas import error_responses
from core.calls.bi_stream import MEDIA_TYPES, BiExport, BiFormat, BiTable
from core.calls.catalog import CallFilters

router = APIRouter(prefix="/exports", tags=["exports"])

FormatQuery = Annotated[
    BiFormat, Query(description="csv (RFC 4180, UTF-8) or parquet (one row group per batch).")
]
FILE = {
    200: {"content": {MEDIA_TYPES["csv"].split(";")[0]: {}, MEDIA_TYPES["parquet"]: {}}},
    **error_responses(),
}
ABOUT = (
    "Takes the same filters as `GET /v1/calls`; deleted calls are never in it. The file is "
    "streamed as the calls are read, a batch at a time. Columns: docs/exports.md."
)


def _export(
    runtime: RuntimeDep, table: BiTable, fmt: BiFormat, filters: CallFilters
) -> StreamingResponse:
    criteria = BiExport.criteria(filters)  # bad filters answer 422 before anything is sent
    chunks = BiExport(runtime.database).stream(table, fmt, criteria)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        chunks, media_type=MEDIA_TYPES[fmt], headers=attachment(f"{table}-{stamp}.{fmt}")
    )


@router.get(
    "/calls",
    summary="Every matching call, one row each, as CSV or Parquet",
    description=ABOUT,
    response_class=StreamingResponse,
    responses=FILE,
)
async def export_calls(
    runtime: RuntimeDep,
    filters: Annotated[CallFilters, Depends(call_filters)],
    format: FormatQuery = "csv",
) -> StreamingResponse:
    return _export(runtime, "calls", format, filters)


@router.get(
    "/utterances",
    summary="Every matching call's utterances, one row each, as CSV or Parquet",
    description=ABOUT,
    response_class=StreamingResponse,
    responses=FILE,
)
async def export_utterances(
    runtime: RuntimeDep,
    filters: Annotated[CallFilters, Depends(call_filters)],
    format: FormatQuery = "csv",
) -> StreamingResponse:
    return _export(runtime, "utterances", format, filters)
