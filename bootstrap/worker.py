"""``callytics worker``: an arq worker that runs analysis jobs queued by any API process.

Scale-out mode (``REDIS_URL`` + ``JOB_BACKEND=arq``): the API enqueues job ids; each worker
builds the same container as the API, loads the models once, and runs
:meth:`core.jobs.service.AnalysisService.execute` for each job. Progress goes to the job table and,
over Redis pub/sub, to whichever API process holds the subscription. arq re-delivers a job
whose worker died once its lease (``ARQ_JOB_TIMEOUT_S``) expires; ``execute`` never stores a
call twice, because the call and the job's success are committed together.

Losing Redis does not end the process: the jobs in flight finish (their outcome is in the
job table), then the worker connects again and goes on once Redis answers.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from bootstrap.container import Container, build_container
from bootstrap.settings import Settings
from core.adapters.arq_queue import ARQ_FUNCTION, REDIS_ERRORS, context_from
from core.errors import CallyticsError, DatabaseUnavailableError, JobDeferred

log = logging.getLogger(__name__)
# A job that met an unreachable database is handed back to arq and tried again after this.
DATABASE_RETRY_S = 5.0


async def run_analysis_job(
    ctx: dict[str, Any], job_id: str, trace_context: dict[str, str] | None = None
) -> str:
    """``trace_context``: the enqueuer's W3C headers; the job's span joins its trace."""
    service = ctx["service"]
    try:
        await service.execute(job_id, trace_context=context_from(trace_context))
    except JobDeferred as deferred:  # a stage is down: arq runs it again later
        from arq import Retry

        raise Retry(defer=deferred.delay_s) from deferred
    except DatabaseUnavailableError as exc:  # the row could not be written: run it again
        from arq import Retry

        log.warning("job %s: %s; retrying in %.0f s", job_id, exc, DATABASE_RETRY_S)
        raise Retry(defer=DATABASE_RETRY_S) from exc
    except CallyticsError as exc:  # the job row holds the reason; arq need not retry
        log.warning("job %s failed: %s", job_id, exc)
        return "failed"
    return "succeeded"


def worker_settings(settings: Settings, container: Container | None = None) -> dict[str, Any]:
    """Keyword arguments for :class:`arq.worker.Worker`."""
    from arq.connections import RedisSettings
    from arq.worker import func

    if not settings.redis_url:
        raise CallyticsError(
            "callytics worker needs Redis.",
            "Set REDIS_URL=redis://host:6379/0 (and JOB_BACKEND=arq on the API).",
        )
    container = container or build_container(settings)
    tries = max(settings.arq_max_tries, settings.job_max_attempts)

    async def startup(ctx: dict[str, Any]) -> None:
        database = container.database()
        database.upgrade()
        service = container.analysis()
        await service.pipeline.load()
        ctx["service"] = service
        ctx["webhooks"] = container.webhook_dispatcher()  # sends the webhook outbox too
        await ctx["webhooks"].start()
        log.info("worker ready: models loaded, concurrency %d", settings.job_concurrency)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if ctx.get("webhooks") is not None:
            await ctx["webhooks"].stop()
        service = ctx.get("service")
        if service is not None:
            await service.bus.close()
            await service.pipeline.aclose()
        container.database().dispose()

    return {
        # arq counts the deferrals (Retry) of a job whose stage was down as tries too.
        "functions": [func(run_analysis_job, name=ARQ_FUNCTION, max_tries=tries)],
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "max_jobs": settings.job_concurrency,
        "job_timeout": settings.arq_job_timeout_s,
        "keep_result": 3600,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "handle_signals": True,
    }


def run_worker(settings: Settings, *, metrics_port: int = 9100) -> None:
    """Run jobs until stopped; ``metrics_port`` (0: none) serves /metrics on all interfaces."""
    from bootstrap.tracing import instrument_database, setup_tracing

    setup_tracing(settings, "callytics-worker")
    container = build_container(settings)
    instrument_database(container.database())
    options = worker_settings(settings, container)
    if metrics_port:
        from prometheus_client import start_http_server

        # The jobs' counts and durations, and the gRPC clients' errors and circuits.
        try:
            start_http_server(metrics_port, registry=container.metrics().registry)
            log.info("worker metrics on port %d", metrics_port)
        except OSError as exc:  # e.g. a second worker on this host: it still runs jobs
            log.warning(
                "no /metrics for this worker: port %d: %s; give each worker its own --metrics-port",
                metrics_port,
                exc,
            )
    serve_jobs(options)


def serve_jobs(options: dict[str, Any], *, retry_s: float = 1.0) -> None:
    """Run an arq worker with ``options`` until it is stopped (SIGINT, SIGTERM).

    When Redis goes away the arq worker ends; its jobs in flight are finished first. A new
    one then starts, and waits for Redis (arq retries the connection), instead of the
    process exiting with the jobs it could have run.
    """
    from arq.worker import Worker

    while True:
        worker = Worker(**options)
        try:
            worker.run()
            return
        except REDIS_ERRORS as exc:
            log.warning("worker: lost Redis (%s); running jobs again once it is back", exc)
        finally:
            pool = worker._pool  # left open when Redis failed during close()
            if pool is not None:
                with contextlib.suppress(*REDIS_ERRORS):
                    worker.loop.run_until_complete(pool.close(close_connection_pool=True))
        time.sleep(retry_s)  # arq's own connection retries wait longer than this
