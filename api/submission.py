"""Accepting an uploaded recording: the one path REST and GraphQL both take."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from api.errors import UploadTooLargeError
from api.runtime import Runtime
from core.access.auth import LOCAL_ADMIN, Principal
from core.analysis.pipeline import AnalysisOptions
from core.errors import InvalidInputError
from core.jobs.audio_store import AudioStore
from core.jobs.events import JobEvent
from core.jobs.service import JobHandle

CHUNK = 1 << 20


class Readable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True)
class Submitted:
    handle: JobHandle
    event: JobEvent | None  # None: a duplicate, nothing queued (handle.duplicate)


def validate_agent(agent: str | None) -> str | None:
    """The agent who handled the call (upload metadata): 1 to 100 printable characters."""
    if agent is None or not agent.strip():
        return None
    agent = agent.strip()
    if len(agent) > 100 or not agent.isprintable():
        raise InvalidInputError(
            "agent must be 1 to 100 printable characters.", "Send the agent's id or name."
        )
    return agent


def validate_options(options: AnalysisOptions) -> None:
    for name in ("num_speakers", "min_speakers", "max_speakers"):
        value = getattr(options, name)
        if value is not None and not 1 <= value <= 20:
            raise InvalidInputError(f"{name} must be between 1 and 20, not {value}.")
    if (
        options.min_speakers
        and options.max_speakers
        and options.min_speakers > options.max_speakers
    ):
        raise InvalidInputError("min_speakers must not exceed max_speakers.")
    if options.agent_channel is not None and options.agent_channel not in (0, 1):
        raise InvalidInputError(
            "agent_channel must be 0 or 1.", "It names the channel that holds the agent."
        )


def client_name(filename: str | None) -> str:
    """The uploaded file's name, kept as data only (for downloads and listings): its last
    path component under either separator, without control characters, at most 200."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[:200] if name not in {"", ".", ".."} else "upload"


async def submit_upload(
    runtime: Runtime,
    upload: Readable,
    filename: str | None,
    options: AnalysisOptions,
    *,
    principal: Principal = LOCAL_ADMIN,
    agent: str | None = None,
    metadata: dict[str, Any] | None = None,
    dedupe: bool = False,
) -> Submitted:
    """Stream the upload to a private temporary file (size-capped), check it is audio, store it
    under a generated name, queue the job. Bad input raises before anything is kept; the
    principal's upload budget is spent first, and it is recorded as the call's creator."""
    validate_options(options)
    agent = validate_agent(agent)
    await runtime.limiter.hit("upload", principal.rate_key)
    settings = runtime.settings
    limit = settings.max_upload_mb * (1 << 20)
    spool = Path(settings.storage_dir) / "incoming"
    spool.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{uuid.uuid4().hex}-", suffix=".part", dir=spool)
    path = Path(name)
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise UploadTooLargeError(
                        f"The upload is larger than the limit of {settings.max_upload_mb} MB.",
                        "Send a shorter or more compressed recording, or raise MAX_UPLOAD_MB.",
                    )
                out.write(chunk)
        safe_name = client_name(filename)
        handle, event = await asyncio.to_thread(
            runtime.service.submit,
            path,
            filename=safe_name,
            options=options,
            move=True,
            submitted_by=principal.actor,
            agent=agent,
            metadata=metadata,
            dedupe=dedupe,
        )
    except OSError as exc:  # the spool or the store is on a disk with no room left
        if (full := AudioStore.storage_full(exc)) is not None:
            raise full from exc
        raise
    finally:
        path.unlink(missing_ok=True)  # moved on success; removed on any failure
    if event is not None:
        await runtime.service.publish(event)
        await runtime.queue.enqueue(handle.job_id)
    return Submitted(handle, event)


async def reanalyze(
    runtime: Runtime,
    call_id: str,
    options: AnalysisOptions,
    *,
    principal: Principal = LOCAL_ADMIN,
) -> JobHandle:
    validate_options(options)
    handle = await asyncio.to_thread(runtime.service.reanalyze, call_id, options, principal.actor)
    await runtime.queue.enqueue(handle.job_id)
    return handle
