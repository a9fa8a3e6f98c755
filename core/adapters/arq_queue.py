"""The arq job queue (``JOB_BACKEND=arq`` with ``REDIS_URL``): jobs handed to arq on Redis,
run by ``callytics worker`` processes anywhere; the local queue is core/jobs/queue.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from opentelemetry.context import Context
from opentelemetry.propagate import extract, inject
from redis.exceptions import RedisError

from core.jobs.service import AnalysisService
from core.persistence.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

ARQ_FUNCTION = "run_analysis_job"
REDIS_ERRORS = (RedisError, OSError)


class ArqJobQueue:
    """Jobs handed to arq on Redis; ``callytics worker`` processes run them.

    Redis may fail or come back empty; the job table still says which jobs wait. A job that
    could not be handed over (Redis down) stays queued in the table and is handed over once
    Redis answers again, and when Redis has lost its data (restarted without persistence:
    the marker key written at start is gone) every queued job is handed over again. Both
    are checked every ``reconcile_s``; handing a job over twice is a no-op (its id is arq's).
    """

    backend = "arq"
    MARKER = "callytics:arq-queue"  # present while Redis keeps what it was given

    def __init__(
        self,
        service: AnalysisService,
        redis_url: str,
        concurrency: int = 1,
        *,
        reconcile_s: float = 2.0,
    ) -> None:
        self.service = service
        self.redis_url = redis_url
        self.concurrency = concurrency
        self.reconcile_s = reconcile_s
        self._pool: Any = None
        self._pending: dict[str, dict[str, str]] = {}  # job id -> its trace context
        self._reconciler: asyncio.Task[None] | None = None
        self._redis_down = False

    async def start(self) -> None:
        from arq import create_pool
        from arq.connections import RedisSettings

        self._pool = await create_pool(RedisSettings.from_dsn(self.redis_url))
        await self._hand_over_queued()
        self._reconciler = asyncio.create_task(self._reconcile(), name="arq-reconcile")

    def _queued(self) -> list[str]:
        with UnitOfWork(self.service.database) as uow:
            return [job.id for job in uow.jobs.unfinished(("queued",))]

    async def enqueue(self, job_id: str) -> None:
        if self._pool is None:
            raise RuntimeError("the job queue is not started")
        # The W3C trace context travels with it: the worker's job span joins this trace.
        carrier: dict[str, str] = {}
        inject(carrier)
        try:
            await self._enqueue(job_id, carrier)
        except REDIS_ERRORS as exc:
            # The job row is queued: it is handed over once Redis answers again.
            self._pending[job_id] = carrier
            self._lost_redis(exc)

    async def _enqueue(self, job_id: str, carrier: dict[str, str]) -> None:
        # The job id doubles as arq's id: enqueueing the same job twice is a no-op.
        await self._pool.enqueue_job(ARQ_FUNCTION, job_id, _job_id=job_id, trace_context=carrier)

    async def _hand_over_queued(self) -> None:
        """Every job the table says is queued, then the marker (so none is missed)."""
        for job_id in await asyncio.to_thread(self._queued):
            await self._enqueue(job_id, self._pending.get(job_id, {}))
            self._pending.pop(job_id, None)
        await self._pool.set(self.MARKER, b"1")

    async def _reconcile(self) -> None:
        while True:
            await asyncio.sleep(self.reconcile_s)
            try:
                await self._reconcile_once()
            except asyncio.CancelledError:
                raise
            except REDIS_ERRORS as exc:
                self._lost_redis(exc)
            except Exception:  # the database, say: try again at the next round
                log.exception("job queue: could not hand the queued jobs to arq")

    async def _reconcile_once(self) -> None:
        marker = await self._pool.exists(self.MARKER)
        if self._redis_down:
            self._redis_down = False
            log.info("job queue: Redis is reachable again")
        if not marker:
            log.warning("job queue: Redis lost the arq queue; handing every queued job over")
            await self._hand_over_queued()
        for job_id, carrier in list(self._pending.items()):
            await self._enqueue(job_id, carrier)
            self._pending.pop(job_id, None)

    def _lost_redis(self, exc: BaseException) -> None:
        if not self._redis_down:
            self._redis_down = True
            log.warning("job queue: Redis unavailable (%s); queued jobs wait in the job table", exc)

    async def stop(self) -> None:
        if self._reconciler is not None:
            self._reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconciler
            self._reconciler = None
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
        with UnitOfWork(self.service.database) as uow:
            return len(uow.jobs.unfinished(("running",)))


def context_from(carrier: dict[str, str] | None) -> Context | None:
    """The trace context an enqueuer injected (``traceparent``), or None."""
    return extract(carrier) if carrier else None
