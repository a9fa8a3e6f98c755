"""The upload mutation's metadata and duplicates (POST /v1/calls's rules, api/rest/uploads.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from api.graphql.context import Info, runtime_of
from api.graphql.types import JobStatus
from api.submission import validate_agent
from core.calls.metadata import merge, parse_metadata
from core.errors import NotFoundError


def upload_metadata(metadata: object, agent: str | None) -> dict[str, Any]:
    """The upload's metadata, checked, with ``agent`` merged in (it wins)."""
    agent = validate_agent(agent)
    checked = parse_metadata(metadata)  # type: ignore[arg-type]  # JSON: whatever was sent
    return merge(checked, {"agent": agent} if agent else None)


async def earlier_status(info: Info, job_id: str) -> JobStatus:
    """A duplicate's job status now (succeeded when only its call is left)."""
    try:
        job = await asyncio.to_thread(runtime_of(info).catalog.job, job_id)
    except NotFoundError:
        return JobStatus.SUCCEEDED
    return JobStatus(job["status"])
