"""/v1/jobs: where an analysis job stands."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.rest.deps import RuntimeDep
from api.rest.schemas import Job, JobEvent, JobList, error_responses
from api.runtime import Runtime
from core.calls.catalog import MAX_PAGE
from core.jobs.status import JobStatusName

router = APIRouter(prefix="/jobs", tags=["jobs"])


def _load(runtime: Runtime, job_id: str, events: bool) -> dict[str, Any]:
    job = runtime.catalog.job(job_id)
    if events:
        job["events"] = [
            JobEvent.model_validate(e) for e in runtime.service.stored_events(job_id, -1)
        ]
    return job


@router.get(
    "",
    summary="Recent jobs, newest first",
    description="All jobs, or those in the given states (repeat `status`): "
    "`?status=queued&status=running` is what is in progress now, from any client or process.",
    responses=error_responses(),
)
async def list_jobs(
    runtime: RuntimeDep,
    status: Annotated[
        list[JobStatusName] | None,
        Query(description="Only jobs in these states."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> JobList:
    jobs = await asyncio.to_thread(runtime.catalog.jobs, status, limit=limit)
    return JobList(items=[Job.model_validate(job) for job in jobs])


@router.get(
    "/{job_id}",
    name="get_job",
    summary="A job's status, stage, progress and error",
    responses=error_responses(404),
)
async def get_job(
    runtime: RuntimeDep,
    job_id: str,
    events: Annotated[bool, Query(description="Include every progress event so far.")] = False,
) -> Job:
    return Job.model_validate(await asyncio.to_thread(_load, runtime, job_id, events))
