"""Prometheus metrics of a Callytics process (the API, `callytics worker`): the registry,
the job and stage counts the analysis service reports, the cache's counts. The HTTP side
(middleware, ``GET /metrics``) is api/metrics.py.

Each :class:`Metrics` holds its own registry (one per container), so two apps in one
process never share counts. The gRPC client's metrics (``shared/stubs/channel.py``) live in
the default registry and are exposed alongside. Under ``callytics serve --workers N`` the
serve command sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start; each worker's
values then go to files there and ``/metrics`` sums them with ``MultiProcessCollector``.
Labels stay low-cardinality: route template, stage, backend, kind, outcome.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


JOB_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)


STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class _DefaultRegistry(Collector):
    """The default registry's metrics (gRPC client, process) inside a container's registry.

    No ``describe``: the registry then does not check its names against its own.
    """

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class CacheCollector(Collector):
    """``callytics_cache_requests_total{tier,result}`` read from the cache at scrape time."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "callytics_cache_requests",
            "Cache lookups per tier, by result (hit or miss).",
            labels=["tier", "result"],
        )
        stats = self.cache.stats() if self.cache is not None else {}
        for tier, counts in stats.items():
            if isinstance(counts, dict):
                family.add_metric([tier, "hit"], float(counts.get("hits", 0)))
                family.add_metric([tier, "miss"], float(counts.get("misses", 0)))
        yield family


class Metrics:
    """The API's and the worker's metrics; also the job observer of ``AnalysisService``."""

    def __init__(self, cache: Any = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "callytics_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "callytics_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.jobs = Counter(
            "callytics_jobs",
            "Analysis jobs that ended, by outcome.",
            ["kind", "outcome"],
            registry=r,
        )
        self.job_duration = Histogram(
            "callytics_job_duration_seconds",
            "Wall time of analysis jobs.",
            ["kind"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.stage_duration = Histogram(
            "callytics_stage_duration_seconds",
            "Time in each pipeline stage, by backend (local or grpc).",
            ["stage", "backend"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.audio_seconds = Counter(
            "callytics_audio_seconds", "Audio analysed by succeeded jobs, in seconds.", registry=r
        )
        self.queue_depth = Gauge(
            "callytics_queue_depth",
            "Jobs waiting in the queue.",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.jobs_running = Gauge(
            "callytics_jobs_running",
            "Jobs running now.",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.model_load = Gauge(
            "callytics_model_load_seconds",
            "How long each stage took to load its model.",
            ["stage", "backend"],
            registry=r,
            multiprocess_mode="livemax",
        )
        if cache is not None:
            r.register(CacheCollector(cache))
        r.register(_DefaultRegistry())

    # ------------------------------------------------------------------ jobs
    def job_ended(
        self, kind: str, outcome: str, seconds: float, document: dict[str, Any] | None
    ) -> None:
        self.jobs.labels(kind, outcome).inc()
        self.job_duration.labels(kind).observe(seconds)
        if document is None:
            return
        for stage, entry in (document.get("stages") or {}).items():
            if isinstance(entry, dict) and "backend" in entry and "seconds" in entry:
                self.stage_duration.labels(stage, entry["backend"]).observe(entry["seconds"])
        duration = (document.get("audio") or {}).get("duration_s")
        if duration:
            self.audio_seconds.inc(float(duration))

    def set_queue(self, stats: dict[str, Any]) -> None:
        self.queue_depth.set(stats.get("queued", 0))
        self.jobs_running.set(stats.get("running", 0))

    # ------------------------------------------------------------------ exposition
    def exposition(self) -> bytes:
        if multiprocess_mode():
            # Every worker's values (files in PROMETHEUS_MULTIPROC_DIR), summed. Cache
            # counts live in each process's memory and are not part of this view.
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def mark_process_dead() -> None:
    """Drop this process's live gauges from the multiprocess view (at worker exit)."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(os.getpid())
