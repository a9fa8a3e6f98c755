"""Job queues: where a submitted job waits until something runs it.

``LocalJobQueue`` (the embedded default) runs jobs inside the API process, at most
``JOB_CONCURRENCY`` at a time. ``ArqJobQueue`` (``JOB_BACKEND=arq`` with ``REDIS_URL``) hands
them to arq, and ``callytics worker`` processes anywhere run them. Either way the job row is
the source of truth: on start-up the local queue picks up every job that was queued or
running when the process stopped, and the arq queue re-enqueues the queued ones (arq itself
re-delivers a job whose worker died once the job's in-progress lease expires).

Outages: a local job that could not be written because the database was unreachable runs
again, backing off, once it is back; a job the arq queue could not hand over because Redis
was down waits in the table and is handed over when Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry.context import Context

from core.errors import DatabaseUnavailableError, JobDeferred
from core.jobs.service import AnalysisService
from core.persistence.models import JobRow
from core.persistence.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    backend: str

    async def start(self) -> None: ...

    async def enqueue(self, job_id: str) -> None: ...

    async def stop(self) -> None: ...

    async def stats(self) -> dict[str, Any]:
        """``{"backend", "queued", "running", "concurrency"}`` for health and metrics."""
        ...


def crashed_reason(attempts: int) -> str:
    return (
        f"The process running this job stopped {attempts} times before it ended (a crash "
        "or a kill mid-job, e.g. while reading this file); it is not run again. The "
        "server's log says more; upload the recording again to retry it."
    )


class LocalJobQueue:
    backend = "local"

    def __init__(
        self,
        service: AnalysisService,
        concurrency: int = 1,
        *,
        claim: Callable[[JobRow], bool] | None = None,
    ) -> None:
        """``claim``: which jobs a previous process left unfinished this queue takes over
        at start (default: all; `callytics ingest` takes only its own)."""
        self.service = service
        self.concurrency = max(1, concurrency)
        self.claim = claim
        self._queue: asyncio.Queue[str] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._running: set[str] = set()
        self._deferred: dict[str, asyncio.TimerHandle] = {}
        # The trace context each job was enqueued in (the request's): its span joins it.
        self._contexts: dict[str, Context] = {}
        # Jobs that met a database outage, and how many times in a row.
        self._outages: dict[str, int] = {}

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        for job_id in await asyncio.to_thread(self._recover):
            self._queue.put_nowait(job_id)
        self._workers = [
            asyncio.create_task(self._work(), name=f"job-worker-{i}")
            for i in range(self.concurrency)
        ]

    def _recover(self) -> list[str]:
        """Jobs left queued or running by a previous process, oldest first.

        A job found running was under way when its process died. Each start counts an
        attempt: one that has had ``JOB_MAX_ATTEMPTS`` already (a file that crashes the
        process every time, say) is failed with the reason instead of run again, so it
        cannot take the server down at every restart.
        """
        ids: list[str] = []
        abandoned: list[tuple[str, str | None]] = []
        with UnitOfWork(self.service.database) as uow:
            jobs = uow.jobs
            for job in jobs.unfinished():
                if self.claim is not None and not self.claim(job):
                    continue
                if job.status == "running" and job.attempts >= self.service.max_attempts:
                    jobs.finish(job.id, error=crashed_reason(job.attempts))
                    if job.kind == "analyze":
                        abandoned.append((job.id, job.audio_path))
                    continue
                if job.status == "running":
                    jobs.requeue(job.id, "interrupted by a restart; queued again")
                ids.append(job.id)
        for job_id, audio_path in abandoned:
            log.error("job %s failed: %s", job_id, crashed_reason(self.service.max_attempts))
            self.service.discard_audio(audio_path)
        if ids:
            log.info("re-queued %d unfinished job(s) from before the restart", len(ids))
        return ids

    async def enqueue(self, job_id: str) -> None:
        if self._queue is None:
            raise RuntimeError("the job queue is not started")
        self._contexts.setdefault(job_id, otel_context.get_current())
        self._queue.put_nowait(job_id)

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            job_id = await self._queue.get()
            self._running.add(job_id)
            try:
                if job_id in self._outages and await asyncio.to_thread(self._ended, job_id):
                    continue  # its end was written after all
                await self.service.execute(job_id, trace_context=self._contexts.get(job_id))
            except asyncio.CancelledError:
                raise
            except JobDeferred as deferred:  # a stage is down: try again later
                self._outages.pop(job_id, None)
                self._defer(job_id, deferred.delay_s)
            except DatabaseUnavailableError as exc:
                # The job could not be written (its row is still queued or running, and
                # no call was stored): run it again once the server is back.
                self._defer(job_id, self._outage_delay(job_id))
                log.warning("job %s: %s (%s); trying again", job_id, exc.message, exc.__cause__)
            except Exception:  # the job row already says why
                log.debug("job %s ended with an error", job_id, exc_info=True)
            finally:
                if job_id not in self._deferred:  # its trace context waits with it
                    self._contexts.pop(job_id, None)
                    self._outages.pop(job_id, None)
                self._running.discard(job_id)
                self._queue.task_done()

    def _ended(self, job_id: str) -> bool:
        with UnitOfWork(self.service.database) as uow:
            job = uow.jobs.get(job_id)
            return job is None or job.status in ("succeeded", "failed")

    def _outage_delay(self, job_id: str) -> float:
        """Back off while the database stays down: 0.5 s (or JOB_RETRY_DELAY_S), doubling,
        up to 30 s."""
        count = self._outages[job_id] = self._outages.get(job_id, 0) + 1
        return float(min(30.0, max(0.5, self.service.retry_delay_s) * 2 ** (count - 1)))

    def _defer(self, job_id: str, delay_s: float) -> None:
        def again() -> None:
            self._deferred.pop(job_id, None)
            if self._queue is not None:
                self._queue.put_nowait(job_id)

        self._deferred[job_id] = asyncio.get_running_loop().call_later(delay_s, again)

    async def join(self) -> None:
        """Wait until every queued job has run (for tests and batch use)."""
        if self._queue is not None:
            await self._queue.join()

    async def stop(self) -> None:
        for timer in self._deferred.values():  # still queued in the table: a restart runs them
            timer.cancel()
        self._deferred.clear()
        self._contexts.clear()
        self._outages.clear()
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []

    async def stats(self) -> dict[str, Any]:
        queued = self._queue.qsize() if self._queue is not None else 0
        return {
            "backend": self.backend,
            "queued": queued,
            "running": len(self._running),
            "deferred": len(self._deferred),
            "concurrency": self.concurrency,
        }
