"""One recording analysed now (``callytics analyze``), or found already analysed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.analysis.pipeline import AnalysisOptions
from core.jobs.service import AnalysisService, EventSink
from core.persistence.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Outcome:
    """``duplicate``: nothing was analysed; the same call (external id) or the same audio
    was analysed before (``document`` is the stored one) or is being analysed now
    (``document`` is None: its job is still queued or running)."""

    job_id: str
    call_id: str
    document: dict[str, Any] | None
    duplicate: bool = False


async def analyze_now(
    service: AnalysisService,
    path: Path,
    *,
    options: AnalysisOptions | None = None,
    metadata: dict[str, Any] | None = None,
    dedupe: bool = True,
    on_event: EventSink | None = None,
) -> Outcome:
    """Submit ``path`` and run its job in this process (no queue to wait in); with
    ``dedupe``, a recording already analysed (or queued) is not analysed again."""
    handle, _ = await asyncio.to_thread(
        service.submit, path, filename=path.name, options=options, metadata=metadata, dedupe=dedupe
    )
    if handle.duplicate:
        document = await asyncio.to_thread(_stored, service, handle.call_id)
        return Outcome(handle.job_id, handle.call_id, document, duplicate=True)
    document = await service.execute(handle.job_id, on_event, defer=False)
    return Outcome(handle.job_id, handle.call_id, document)


def _stored(service: AnalysisService, call_id: str) -> dict[str, Any] | None:
    with UnitOfWork(service.database) as uow:
        return uow.calls.document(call_id)
