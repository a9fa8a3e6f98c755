"""A stage process: one stage's engine served over gRPC (``callytics stage <name>``,
``python -m services.<name>``), composed here from the container like the API is."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from bootstrap.container import build_container
from bootstrap.container import local_engine as container_engine
from core.access.auth import check_bind
from core.ports import close_stage
from services.grpc_server import StageServer, stage_authenticator

log = logging.getLogger(__name__)

METRICS_PORT_OFFSET = 1000  # a stage's metrics: its gRPC port + 1000 (asr 50052 -> 51052)


def default_port(stage: str, settings: Any) -> int:
    """The port of the stage's default target (``<STAGE>_GRPC_TARGET``), e.g. 50052 for asr."""
    target = str(getattr(settings, f"{stage}_grpc_target")).split(",")[0]
    return int(target.rsplit(":", 1)[-1])


def local_engine(stage: str, settings: Any) -> Any:
    """The in-process engine of ``stage``, whatever the USE_<STAGE>_MS flags say."""
    return container_engine(build_container(settings), stage)


def start_metrics_server(host: str, port: int) -> Any:
    """Serve this process's metrics over HTTP (``port`` 0: not at all); returns the server."""
    if not port:
        return None
    from prometheus_client import start_http_server

    try:
        server, _thread = start_http_server(port, addr=host)
    except OSError as exc:  # the stage still serves; say why it has no /metrics
        log.warning("no /metrics: port %d: %s; pass another --metrics-port", port, exc)
        return None
    log.info("metrics on http://%s:%d/metrics", host, port)
    return server


async def serve_stage(
    stage: str,
    settings: Any,
    *,
    host: str,
    port: int,
    grace_s: float | None = None,
    metrics_port: int = 0,
    allow_open: bool = False,
) -> None:
    """Run until SIGTERM/SIGINT (`callytics stage` and `python -m services.<stage>`)."""
    authenticator = stage_authenticator(settings)
    log.info("%s stage: %s", stage, check_bind([host], authenticator, allow_open=allow_open))
    container = build_container(settings)
    engine = container_engine(container, stage)
    add_to_server = None
    if stage == "asr":  # live calls stream with the LIVE_* settings, on their own model
        from services.asr.server import add_to_server as add_asr

        live = container.local_live_transcriber()

        def add_to_server(engine: Any, grpc_server: Any) -> str:
            return add_asr(engine, grpc_server, streaming=live)

    server = StageServer(
        stage,
        engine,
        host=host,
        port=port,
        authenticator=authenticator,
        add_to_server=add_to_server,
    )
    metrics = start_metrics_server(host, metrics_port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await server.start()
    await stopping.wait()
    grace = settings.grpc_shutdown_grace_s if grace_s is None else grace_s
    log.info("%s stage stopping (grace %.0f s)", stage, grace)
    await server.stop(grace)
    await close_stage(engine)  # what the engine holds open (the local LLM's server)
    if metrics is not None:
        metrics.shutdown()
