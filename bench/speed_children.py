"""What each child process of bench/speed.py measures (``--child pipeline|peer|throughput``).

* ``pipeline``: model load time per stage engine, then per file one warm-up and ``runs``
  timed ``analyze_file`` calls (wall time and each stage's seconds).
* ``peer``: bare ``faster_whisper.WhisperModel`` with the pipeline's settings, the file
  transcribed the way the pipeline did (each channel, or the mono mix).
* ``throughput``: ``calls`` copies of one call through a ``LocalJobQueue`` per concurrency.

Each returns a JSON-able dict; the heavy imports are inside the functions.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any


def make_settings(tmp: Path, model: str, device: str, **overrides: Any) -> Any:
    from bootstrap.settings import Settings

    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{tmp}/speed.db",
        storage_dir=tmp / "audio",
        asr_model=model,
        asr_device=device,  # type: ignore[arg-type]
        llm_provider="rules",
        **overrides,
    )


def prepared_service(container: Any) -> Any:
    container.database().upgrade()
    service = container.analysis()
    # Without the content cache, so that repeated runs call every stage each time.
    service.pipeline.embedder, service.pipeline.analyzer = (
        container.embedder(),
        container.analyzer(),
    )
    return service


async def child_pipeline(spec: dict[str, Any]) -> dict[str, Any]:
    from bootstrap.container import build_container

    with tempfile.TemporaryDirectory(prefix="callytics-speed-") as tmp_name:
        container = build_container(make_settings(Path(tmp_name), spec["model"], spec["device"]))
        service = prepared_service(container)
        load: dict[str, float] = {}
        for name, engine in service.pipeline.stage_engines().items():
            t0 = time.perf_counter()
            await engine.load()
            load[name] = time.perf_counter() - t0
        files = []
        for path in map(Path, spec["files"]):
            warm = await service.analyze_file(path)  # warm-up: first-call costs, this shape
            walls: list[float] = []
            stages: dict[str, list[float]] = {}
            for _ in range(spec["runs"]):
                t0 = time.perf_counter()
                document = await service.analyze_file(path)
                walls.append(time.perf_counter() - t0)
                for name, entry in document["stages"].items():
                    if "seconds" in entry:
                        stages.setdefault(name, []).append(float(entry["seconds"]))
            files.append(
                {
                    "file": str(path),
                    "audio_s": float(warm["audio"]["duration_s"]),
                    "channels": int(warm["audio"]["channels"]),
                    "method": warm["stages"]["diarization"].get("method", ""),
                    "compute_type": warm["stages"]["asr"].get("compute_type", ""),
                    "asr_device": warm["stages"]["asr"].get("device", ""),
                    "words": sum(len(u.get("text", "").split()) for u in warm["utterances"]),
                    "wall_s": walls,
                    "stages": stages,
                }
            )
    return {"load_s": load, "files": files}


async def child_peer(spec: dict[str, Any]) -> dict[str, Any]:
    import ctranslate2
    from faster_whisper import WhisperModel, decode_audio

    from services.asr.models import resolve_whisper_model
    from services.device import resolve_device

    with tempfile.TemporaryDirectory(prefix="callytics-speed-") as tmp_name:
        settings = make_settings(Path(tmp_name), spec["model"], spec["device"])
    policy = resolve_device(settings.asr_device, settings.asr_compute_type)
    t0 = time.perf_counter()
    path = resolve_whisper_model(
        settings.asr_model, settings.models_dir, allow_download=settings.allow_model_downloads
    )
    model = WhisperModel(
        path,
        device=policy.device,
        compute_type=policy.compute_type,
        cpu_threads=settings.asr_cpu_threads,
    )
    load_s = time.perf_counter() - t0
    # As the pipeline does: an English-only model is told the language, else detection.
    language = settings.asr_language if model.model.is_multilingual else "en"

    def once(file: str, per_channel: bool) -> tuple[float, float, int]:
        t0 = time.perf_counter()
        if per_channel:  # the pipeline's dual-channel way: each party's channel on its own
            left, right = decode_audio(file, split_stereo=True)
            parts = [left, right]
        else:
            parts = [decode_audio(file)]
        t1 = time.perf_counter()
        words = 0
        for audio in parts:
            ctranslate2.set_random_seed(0)  # as the pipeline: the same fallback sampling
            segments, _info = model.transcribe(
                audio,
                language=language,
                beam_size=settings.asr_beam_size,
                word_timestamps=True,
                vad_filter=True,
                condition_on_previous_text=False,
            )
            for segment in segments:  # lazy: decoding happens while iterating
                words += sum(1 for w in segment.words or () if w.word.strip())
        return t1 - t0, time.perf_counter() - t1, words

    files = []
    for item in spec["files"]:
        _, _, words = once(item["file"], item["per_channel"])  # warm-up
        decode: list[float] = []
        transcribe: list[float] = []
        for _ in range(spec["runs"]):
            d, t, _ = once(item["file"], item["per_channel"])
            decode.append(d)
            transcribe.append(t)
        files.append(
            {"file": item["file"], "decode_s": decode, "asr_s": transcribe, "words": words}
        )
    return {
        "load_s": load_s,
        "device": policy.device,
        "compute_type": policy.compute_type,
        "files": files,
    }


async def child_throughput(spec: dict[str, Any]) -> dict[str, Any]:
    from bootstrap.container import build_container
    from core.jobs.queue import LocalJobQueue
    from core.persistence.repositories import JobRepository

    audio = Path(spec["audio"])
    results = []
    with tempfile.TemporaryDirectory(prefix="callytics-speed-") as tmp_name:
        container = build_container(make_settings(Path(tmp_name), spec["model"], spec["device"]))
        service = prepared_service(container)
        await service.pipeline.load()
        warm = await service.analyze_file(audio)  # warm-up, outside the timing
        for concurrency in spec["concurrency"]:
            queue = LocalJobQueue(service, concurrency)
            await queue.start()
            try:
                t0 = time.perf_counter()
                ids = []
                for i in range(spec["calls"]):
                    handle, _ = await asyncio.to_thread(
                        service.submit, audio, filename=f"call-c{concurrency}-{i:03d}{audio.suffix}"
                    )
                    await queue.enqueue(handle.job_id)
                    ids.append(handle.job_id)
                await queue.join()
                wall = time.perf_counter() - t0
            finally:
                await queue.stop()
            with service.database.session() as session:
                jobs = JobRepository(session)
                statuses = [getattr(jobs.get(i), "status", "missing") for i in ids]
            results.append(
                {
                    "concurrency": concurrency,
                    "calls": spec["calls"],
                    "wall_s": wall,
                    "succeeded": statuses.count("succeeded"),
                }
            )
    return {"audio_s": float(warm["audio"]["duration_s"]), "runs": results}


CHILDREN = {"pipeline": child_pipeline, "peer": child_peer, "throughput": child_throughput}
