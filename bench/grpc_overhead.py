"""Wall time of one call analysed all in-process vs with every stage a gRPC service.

    .venv/bin/python -m bench.grpc_overhead [--audio FILE] [--runs 3] [--model tiny.en]

Starts the five stages as `callytics stage <name>` processes on loopback ports (as they
would run on their own machines), waits until each reports SERVING, warms both paths with
one analysis, then times ``--runs`` analyses each way (models loaded, SQLite). Prints a
markdown table: median wall time, the ratio, and the median seconds of each stage.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bootstrap.container import build_container
from bootstrap.settings import Settings
from core.stages import SERVED as STAGES
from tests.support.processes import StageProcess, child_env, free_port


def settings(tmp: Path, name: str, model: str, **overrides: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{tmp}/{name}.db",
        storage_dir=tmp / f"{name}-audio",
        asr_model=model,
        llm_provider="rules",
        **overrides,
    )


async def timed(container: Any, audio: Path, runs: int) -> tuple[list[float], dict[str, float]]:
    service = container.analysis()
    # Without the content cache, so that repeated runs call every stage each time.
    service.pipeline.embedder, service.pipeline.analyzer = (
        container.embedder(),
        container.analyzer(),
    )
    await service.pipeline.load()
    await service.analyze_file(audio)  # warm-up: caches, first-call costs
    walls, stages = [], {}
    for _ in range(runs):
        started = time.perf_counter()
        document = await service.analyze_file(audio)
        walls.append(time.perf_counter() - started)
        for name, entry in document["stages"].items():
            if "seconds" in entry:
                stages.setdefault(name, []).append(entry["seconds"])
    return walls, {name: statistics.median(v) for name, v in stages.items()}


async def run(audio: Path, runs: int, model: str) -> None:
    with tempfile.TemporaryDirectory(prefix="callytics-grpc-") as tmp_name:
        tmp = Path(tmp_name)
        ports = {stage: free_port() for stage in STAGES}
        env = child_env(ASR_MODEL=model, LLM_PROVIDER="rules")
        procs = [StageProcess(s, p, env, tmp / f"{s}.log") for s, p in ports.items()]
        try:
            local = build_container(settings(tmp, "local", model))
            local.database().upgrade()
            remote_settings = settings(
                tmp,
                "remote",
                model,
                **{f"use_{s}_ms": True for s in STAGES},
                **{f"{s}_grpc_target": f"127.0.0.1:{p}" for s, p in ports.items()},
            )
            remote = build_container(remote_settings)
            remote.database().upgrade()
            local_walls, local_stages = await timed(local, audio, runs)
            remote_walls, remote_stages = await timed(remote, audio, runs)
        finally:
            for proc in procs:
                proc.stop()
    lw, rw = statistics.median(local_walls), statistics.median(remote_walls)
    print(f"{audio.name}, ASR {model}, median of {runs} runs after one warm-up\n")
    print("| path | wall s | " + " | ".join(local_stages) + " |")
    print("|---|---|" + "---|" * len(local_stages))
    for label, wall, stages in (("all in-process", lw, local_stages),
                                ("all gRPC (loopback)", rw, remote_stages)):  # fmt: skip
        cells = " | ".join(f"{stages.get(name, 0):.2f}" for name in local_stages)
        print(f"| {label} | {wall:.2f} | {cells} |")
    print(f"\noverhead ratio (gRPC / in-process): {rw / lw:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, default=Path("data/samples/demo_call.wav"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", default="tiny.en")
    args = parser.parse_args()
    if not args.audio.exists():
        raise SystemExit(f"{args.audio} not found: run `make demo` first, or pass --audio")
    asyncio.run(run(args.audio, args.runs, args.model))


if __name__ == "__main__":
    main()
