"""Job queues: where a submitted job waits until something runs it.

``LocalJobQueue`` (the embedded default) runs jobs inside the API process, at most
``JOB_CONCURRENCY`` at a time. ``ArqJobQueue`` (``JOB_BACKEND=arq`` with ``REDIS_URL``) hands
them to arq, and ``callytics worker`` processes anywhere run them. Either way the job row is
the source of truth: on start-up the local queue picks up every job that was queued or
running when the process stopped, and the arq queue re-enqueues the queued ones (arq itself
re-delivers a job whose worker died once the job's in-progress lease expires).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.propagate import extract, inject

from core.errors import JobDeferred
from core.jobs import AnalysisService
from core.persistence.repositories import JobRepository

log = logging.getLogger(__name__)

ARQ_FUNCTION = "run_analysis_job"


def context_from(carrier: dict[str, str] | None) -> Context | None:
    """The trace context an enqueuer injected (``traceparent``), or None."""
    return extract(carrier) if carrier else None


class JobQueue(Protocol):
    backend: str

    async def start(self) -> None: ...

    async def enqueue(self, job_id: str) -> None: ...

    async def stop(self) -> None: ...

    async def stats(self) -> dict[str, Any]:
        """``{"backend", "queued", "running", "concurrency"}`` for health and metrics."""
        ...


class LocalJobQueue:
    backend = "local"

    def __init__(self, service: AnalysisService, concurrency: int = 1) -> None:
        self.service = service
        self.concurrency = max(1, concurrency)
        self._queue: asyncio.Queue[str] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._running: set[str] = set()
        self._deferred: dict[str, asyncio.TimerHandle] = {}
        # The trace context each job was enqueued in (the request's): its span joins it.
        self._contexts: dict[str, Context] = {}

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        for job_id in await asyncio.to_thread(self._recover):
            self._queue.put_nowait(job_id)
        self._workers = [
            asyncio.create_task(self._work(), name=f"job-worker-{i}")
            for i in range(self.concurrency)
        ]

    def _recover(self) -> list[str]:
        """Jobs left queued or running by a previous process, oldest first."""
        ids: list[str] = []
        with self.service.database.session() as session:
            jobs = JobRepository(session)
            for job in jobs.unfinished():
                if job.status == "running":
                    jobs.requeue(job.id, "interrupted by a restart; queued again")
                ids.append(job.id)
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
                await self.service.execute(job_id, trace_context=self._contexts.get(job_id))
            except asyncio.CancelledError:
                raise
            except JobDeferred as deferred:  # a stage is down: try again later
                self._defer(job_id, deferred.delay_s)
            except Exception:  # the job row already says why
                log.debug("job %s ended with an error", job_id, exc_info=True)
            finally:
                if job_id not in self._deferred:  # its trace context waits with it
                    self._contexts.pop(job_id, None)
                self._running.discard(job_id)
                self._queue.task_done()

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


class ArqJobQueue:
    backend = "arq"

    def __init__(self, service: AnalysisService, redis_url: str, concurrency: int = 1) -> None:
        self.service = service
        self.redis_url = redis_url
        self.concurrency = concurrency
        self._pool: Any = None

    async def start(self) -> None:
        from arq import create_pool
        from arq.connections import RedisSettings

        self._pool = await create_pool(RedisSettings.from_dsn(self.redis_url))
        queued = await asyncio.to_thread(self._queued)
        for job_id in queued:
            await self.enqueue(job_id)

    def _queued(self) -> list[str]:
        with self.service.database.session() as session:
            return [job.id for job in JobRepository(session).unfinished(("queued",))]

    async def enqueue(self, job_id: str) -> None:
        if self._pool is None:
            raise RuntimeError("the job queue is not started")
        # The job id doubles as arq's id: enqueueing the same job twice is a no-op.
        # The W3C trace context travels with it: the worker's job span joins this trace.
        carrier: dict[str, str] = {}
        inject(carrier)
        await self._pool.enqueue_job(ARQ_FUNCTION, job_id, _job_id=job_id, trace_context=carrier)

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None

    async def stats(self) -> dict[str, Any]:
        queued = 0
        if self._pool is not None:
            queued = len(await self._pool.queued_jobs())
        running = await asyncio.to_thread(self._count_running)
        return {
            "backend": self.backend,
            "queued": queued,
            "running": running,
            "concurrency": self.concurrency,
        }

    def _count_running(self) -> int:
        with self.service.database.session() as session:
            return len(JobRepository(session).unfinished(("running",)))
