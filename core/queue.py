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
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.propagate import extract, inject
from redis.exceptions import RedisError

from core.errors import DatabaseUnavailableError, JobDeferred
from core.jobs import AnalysisService
from core.persistence.repositories import JobRepository

log = logging.getLogger(__name__)

ARQ_FUNCTION = "run_analysis_job"
REDIS_ERRORS = (RedisError, OSError)


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


def crashed_reason(attempts: int) -> str:
    return (
        f"The process running this job stopped {attempts} times before it ended (a crash "
        "or a kill mid-job, e.g. while reading this file); it is not run again. The "
        "server's log says more; upload the recording again to retry it."
    )


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
        with self.service.database.session() as session:
            jobs = JobRepository(session)
            for job in jobs.unfinished():
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
        with self.service.database.session() as session:
            job = JobRepository(session).get(job_id)
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
        with self.service.database.session() as session:
            return [job.id for job in JobRepository(session).unfinished(("queued",))]

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
        with self.service.database.session() as session:
            return len(JobRepository(session).unfinished(("running",)))
