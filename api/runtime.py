"""What a serving process holds: the container's services, the job queue, and stage health.

One :class:`Runtime` per process, created by the app's lifespan (or the worker) and shared by
REST, GraphQL and the health routes, so there is no second code path for any of them.
Endpoints take the services they use from it (``runtime.catalog``, ``runtime.categories``,
``runtime.insights``, ``runtime.api_keys``, ...), never from the container or built inline.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from api.hot import KeptAnswers
from bootstrap.container import Container
from core.access.ratelimit import RateLimiter
from core.stages import OPTIONAL_SERVED, REQUIRED_SERVED

log = logging.getLogger(__name__)


@dataclass
class StageState:
    name: str
    required: bool
    status: str = "loading"  # loading | up | down
    detail: str = ""
    backend: str = "local"
    engine: str = ""
    model: str = ""
    device: str = ""
    load_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # gRPC stages: each replica's health check, the circuit, failovers (see refresh_remote)
    remote: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "required": self.required,
            "status": self.status,
            "detail": self.detail,
            "backend": self.backend,
            "engine": self.engine,
            "model": self.model,
            "device": self.device,
            "load_seconds": self.load_seconds,
            "remote": self.remote,
        }


class Runtime:
    def __init__(self, container: Container) -> None:
        self.container = container
        self.settings = container.settings()
        self.database = container.database()
        self.service = container.analysis()
        self.queue = container.job_queue()
        self.catalog = container.catalog()
        self.insights = container.insights()
        self.categories = container.categories()
        self.vocabularies = container.vocabularies()
        self.api_keys = container.api_keys()
        self.search = container.search()
        self.cache = container.cache()
        self.metrics = container.metrics()
        self.auth = container.authenticator()
        self.live = container.live()
        self.webhooks = container.webhooks()
        self.dispatcher = container.webhook_dispatcher()  # sends the webhook outbox
        self.limiter = RateLimiter(self._limits())
        self.answers = KeptAnswers()  # rendered list pages, for the hot reads (api/hot.py)
        self.stages: dict[str, StageState] = {
            name: StageState(name, name in REQUIRED_SERVED)
            for name in (*REQUIRED_SERVED, *OPTIONAL_SERVED)
        }
        self._loader: asyncio.Task[None] | None = None
        self._redis: Any = None
        self._freeze_heap = False

    # ------------------------------------------------------------------ life
    async def start(
        self, *, load_models: bool = True, run_jobs: bool = True, freeze_heap: bool = False
    ) -> None:
        """``freeze_heap``: once the models are loaded, take everything then alive out of the
        garbage collector's sight (see :meth:`load_stages`); for a serving process."""
        self._freeze_heap = freeze_heap
        await asyncio.to_thread(self.database.upgrade)
        if self.settings.redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.Redis.from_url(self.settings.redis_url)
            # One budget per key across every API process (falls back to this one's own).
            self.limiter = RateLimiter(self._limits(), redis=self._redis)
            # Listen for other processes' invalidations before serving anything cached.
            await asyncio.to_thread(self.cache.start)
        if load_models:
            self._loader = asyncio.create_task(self.load_stages())
        if run_jobs:
            await self.queue.start()
            # Live calls a previous process left open: their recordings go to the queue.
            recovered = await self.live.recover()
            if recovered:
                log.info("handed %d live calls left open to the job queue", recovered)
            await self.dispatcher.start()

    def _limits(self) -> dict[str, int]:
        return {
            "upload": self.settings.rate_limit_uploads_per_min,
            "search": self.settings.rate_limit_searches_per_min,
        }

    async def stop(self) -> None:
        await self.live.close()  # live calls still streaming are hung up, not lost
        await self.dispatcher.stop()  # what it had claimed is sent again once the lease ends
        await self.queue.stop()
        if self._loader is not None:
            self._loader.cancel()
        await self.service.bus.close()
        await self.service.pipeline.aclose()
        await asyncio.to_thread(self.cache.close)
        if self._redis is not None:
            await self._redis.aclose()

    async def load_stages(self) -> None:
        """Load every stage's model once, recording how each went (for /health/ready).

        With ``JOB_BACKEND=arq`` jobs run in worker processes: this process only loads the
        embedding model (search needs it) and reports the other stages as delegated.
        """
        delegated = self.settings.job_backend == "arq"
        loads = []
        for name, engine in self.service.pipeline.stage_engines().items():
            state = self.stages[name]
            info = engine.info()
            state.backend, state.engine, state.model = info.backend, info.engine, info.model
            if delegated and name != "embedding":
                state.status, state.detail = "up", "runs in `callytics worker` processes"
            else:
                loads.append(self._load_stage(state, engine))
        # Together: a remote stage still loading its model is waited for without holding
        # back the others.
        await asyncio.gather(*loads)
        if self.stages["embedding"].status == "up":
            # Build the search index now, so the first query does not pay for it.
            try:
                await self.search.warm()
            except Exception as exc:
                log.warning("search index not built at startup: %s", exc)
        if self._freeze_heap:
            # The models' millions of objects live as long as the process. Left to the
            # collector, every full collection walked them: a 200-400 ms pause of the event
            # loop every few thousand requests (cached reads at 50 connections: p90 220 ms,
            # 36 ms frozen). Frozen, a collection walks only what came later.
            await asyncio.to_thread(gc.collect)
            gc.freeze()
            log.info("heap frozen after loading: %d objects", gc.get_freeze_count())

    async def _load_stage(self, state: StageState, engine: Any) -> None:
        started = time.perf_counter()
        try:
            await engine.load()
            info = engine.info()
            state.engine, state.model, state.device = info.engine, info.model, info.device
            state.extra = dict(info.extra)
            state.status, state.detail = "up", ""
        except Exception as exc:
            state.status, state.detail = "down", str(exc)
            log.error("stage %s could not load: %s", state.name, exc)
        state.load_seconds = round(time.perf_counter() - started, 3)
        self.metrics.model_load.labels(state.name, state.backend).set(state.load_seconds)

    def engine(self, name: str) -> Any:
        """The stage's engine as configured (the caches around some are see-through)."""
        engine = self.service.pipeline.stage_engines()[name]
        return getattr(engine, "inner", engine)

    async def refresh_remote(self) -> None:
        """Ask every gRPC stage's replicas for their standard health check.

        A stage with no replica SERVING, or whose circuit is open, is down, unless
        FAILOVER_TO_LOCAL lets the in-process engine stand in for it.
        """
        for name, state in self.stages.items():
            engine = self.engine(name)
            if state.backend != "grpc" or not hasattr(engine, "probe") or state.status == "loading":
                continue
            try:
                remote = await asyncio.wait_for(engine.probe(), timeout=5)
            except Exception as exc:
                remote = {"serving": False, "error": str(exc)}
            state.remote = remote
            reachable = remote.get("serving") and remote.get("circuit") != "opened"
            if reachable:
                state.status, state.detail = "up", f"gRPC at {remote.get('target')}"
            elif self.settings.failover_to_local:
                state.status = "up"
                state.detail = "remote stage down: FAILOVER_TO_LOCAL runs it in-process"
            else:
                state.status = "down"
                state.detail = remote.get("last_error") or f"no replica SERVING: {remote}"

    async def models_loaded(self) -> None:
        if self._loader is not None:
            await asyncio.shield(self._loader)

    # ------------------------------------------------------------------ health
    async def check_database(self) -> dict[str, Any]:
        def ping() -> None:
            with self.database.engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        try:
            await asyncio.wait_for(asyncio.to_thread(ping), timeout=5)
            return {"status": "up", "dialect": self.database.dialect}
        except Exception as exc:
            return {"status": "down", "dialect": self.database.dialect, "detail": str(exc)}

    async def check_redis(self) -> dict[str, Any] | None:
        if self._redis is None:
            return None
        try:
            await asyncio.wait_for(self._redis.ping(), timeout=2)
            return {"status": "up"}
        except Exception as exc:
            return {"status": "down", "detail": str(exc) or type(exc).__name__}

    async def health(self) -> dict[str, Any]:
        """``status``: ok; degraded (an optional part is down); starting (a required stage is
        still loading its model); down (a required part is down). Redis is required with
        JOB_BACKEND=arq (the queue lives there); with the local queue only the cache and the
        event bus use it, and both carry on without it, so it down is ``degraded``."""
        database = await self.check_database()
        redis = await self.check_redis()
        await self.refresh_remote()
        stages = {name: state.as_dict() for name, state in self.stages.items()}
        redis_down = redis is not None and redis["status"] != "up"
        redis_required = self.settings.job_backend == "arq"
        required_down = database["status"] != "up" or (redis_down and redis_required)
        required = [s for s in self.stages.values() if s.required]
        required_down |= any(s.status == "down" for s in required)
        loading = any(s.status == "loading" for s in required)
        # ... and until the search index is built and the heap frozen after the loads
        loading |= self._loader is not None and not self._loader.done()
        optional_down = any(not s.required and s.status != "up" for s in self.stages.values())
        optional_down |= redis_down and not redis_required
        status = "down" if required_down else "starting" if loading else "ok"
        if status == "ok" and optional_down:
            status = "degraded"
        try:
            queue = await self.queue.stats()
        except Exception as exc:
            queue = {"backend": getattr(self.queue, "backend", "?"), "error": str(exc)}
        components: dict[str, Any] = {"database": database, "stages": stages, "queue": queue}
        if redis is not None:
            components["redis"] = redis
        return {"status": status, **components}
