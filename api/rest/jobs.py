"""/v1/jobs: where an analysis job stands."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.rest.deps import RuntimeDep
from api.rest.schemas import Job, JobEvent, error_responses
from api.runtime import Runtime

router = APIRouter(prefix="/jobs", tags=["jobs"])


def _load(runtime: Runtime, job_id: str, events: bool) -> dict[str, Any]:
    job = runtime.catalog.job(job_id)
    if events:
        job["events"] = [
            JobEvent.model_validate(e) for e in runtime.service.stored_events(job_id, -1)
        ]
    return job


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
