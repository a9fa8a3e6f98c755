"""Speed: x real time per stage, load time, peak RSS, bare faster-whisper, calls per hour.

Real-time factor per stage and end to end, model load time, peak RSS, the bare
faster-whisper peer side by side, and throughput at JOB_CONCURRENCY 1 and 2.

    .venv/bin/python -m bench speed [--models tiny.en base] [--runs 3] [--calls 6]
                                    [--audio FILE ...] [--concurrency 1 2] [--gpu]

For each ASR model, three fresh child processes (this module with the hidden ``--child``
flag), so that no model's memory or warm caches reach another measurement; each one's peak
RSS is read from ``os.wait4`` when it exits (the rusage of that child alone: the
``RUSAGE_CHILDREN`` total of the parent would be the largest of all children so far):

* ``pipeline``: builds the container (temp SQLite, LLM_PROVIDER=local, the content cache
  bypassed so every run computes every stage), times ``await engine.load()`` for each of
  ``pipeline.stage_engines()``, then per file one warm-up analysis and ``--runs`` timed
  ``analyze_file`` calls: the wall time end to end and each stage's ``seconds`` from the
  document's ``stages`` block (medians).
* ``peer``: bare ``faster_whisper.WhisperModel`` with the same model directory, device,
  compute type, cpu threads and beam size, ``vad_filter=True, word_timestamps=True,
  condition_on_previous_text=False``, decoding the file with ``faster_whisper.decode_audio``
  and transcribing it the way the pipeline did: each channel on its own where the pipeline
  diarized by channel (a dual-channel call), the mono mix otherwise.
* ``throughput``: ``--calls`` copies of the demo call (distinct names) submitted to a
  ``LocalJobQueue`` of each ``--concurrency`` (models loaded and warmed first), timed until
  ``await queue.join()``: calls per hour = calls / wall * 3600.

Then the targets: end to end >= 4x real time with base, everything except ASR <= 25% of
ASR time, peak RSS < 2 GB with base. GB here is 10^9 bytes (ru_maxrss KiB * 1024).
Prints markdown tables for bench/RESULTS.md.

``--gpu`` runs the same with ASR_DEVICE=cuda (compute type auto: float16) and exits 2 when
CUDA is not available. That path has not been run yet: the machine this was written on
has no GPU.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data/samples/demo_call.wav"
SHARED_AUDIO = ROOT.parent / "shared/data/audio"
DEFAULT_FILES = (DEMO, SHARED_AUDIO / "pyannote_sample.wav", SHARED_AUDIO / "jfk.flac")
DEFAULT_MODELS = ("tiny.en", "base")
STAGE_ORDER = ("diarization", "asr", "roles", "sentiment", "embedding", "metrics", "llm")
LOAD_ORDER = ("diarization", "asr", "sentiment", "embedding", "llm")
MARKER = "BENCH_SPEED_RESULT "

# The targets (the project's brief): checked with Whisper base.
TARGET_MODEL = "base"
TARGET_RTF = 4.0  # end to end, x real time, at least
TARGET_NON_ASR_SHARE = 0.25  # everything but ASR, as a share of ASR time, at most
TARGET_RSS_BYTES = 2_000_000_000  # peak RSS, less than


# ---------------------------------------------------------------------- pure helpers
def median(values: Iterable[float]) -> float:
    items = [float(v) for v in values]
    if not items:
        raise ValueError("median of no values")
    return float(statistics.median(items))


def rtf(audio_s: float, wall_s: float) -> float | None:
    """Real-time factor: seconds of audio per second of wall time (None: no time taken)."""
    if wall_s <= 0:
        return None
    return audio_s / wall_s


def fmt_x(value: float | None) -> str:
    """A real-time factor for a table: ``264x``, ``26.4x``, ``4.21x``; ``-`` when unmeasurable."""
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


def stage_cell(audio_s: float, seconds: float | None) -> str:
    """``0.31 (264x)``; a stage under 10 ms (the document keeps milliseconds) shows no factor."""
    if seconds is None:
        return "-"
    if seconds < 0.01:
        return "<0.01"
    return f"{seconds:.2f} ({fmt_x(rtf(audio_s, seconds))})"


def fmt_gb(rss_bytes: float) -> str:
    return f"{rss_bytes / 1e9:.2f} GB"


def calls_per_hour(calls: int, wall_s: float) -> float:
    if wall_s <= 0:
        raise ValueError("wall time must be positive")
    return calls / wall_s * 3600


def non_asr_share(e2e_s: float, asr_s: float) -> float | None:
    """Everything but ASR (decode, store, every other stage) as a share of ASR time."""
    if asr_s <= 0:
        return None
    return max(0.0, e2e_s - asr_s) / asr_s


def parse_child_output(stdout: str) -> dict[str, Any]:
    """The result a child printed: the JSON after the last ``MARKER`` line."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            value = json.loads(line[len(MARKER) :])
            if not isinstance(value, dict):
                raise ValueError("the child's result is not a JSON object")
            return value
    raise ValueError("the child printed no result line (see its stderr above)")


@dataclass(frozen=True)
class TargetRow:
    target: str
    figure: str
    met: bool | None  # None: not measured

    @property
    def status(self) -> str:
        return "not measured" if self.met is None else ("met" if self.met else "not met")


def check_targets(
    e2e_rtf: float | None,
    share: float | None,
    rss_bytes: float | None,
    *,
    model: str = TARGET_MODEL,
    note: str = "",
) -> list[TargetRow]:
    """Met / not met for the three targets; a figure of None was not measured. ``note`` is
    added to the end-to-end figure (say, the slowest file)."""
    rows = []
    rows.append(
        TargetRow(
            f"end to end >= {TARGET_RTF:g}x real time ({model})",
            "n/a" if e2e_rtf is None else fmt_x(e2e_rtf) + (f" ({note})" if note else ""),
            None if e2e_rtf is None else e2e_rtf >= TARGET_RTF,
        )
    )
    rows.append(
        TargetRow(
            f"everything except ASR <= {TARGET_NON_ASR_SHARE:.0%} of ASR time ({model})",
            "n/a" if share is None else f"{share:.1%}",
            None if share is None else share <= TARGET_NON_ASR_SHARE,
        )
    )
    rows.append(
        TargetRow(
            f"peak RSS < {fmt_gb(TARGET_RSS_BYTES)} ({model})",
            "n/a" if rss_bytes is None else fmt_gb(rss_bytes),
            None if rss_bytes is None else rss_bytes < TARGET_RSS_BYTES,
        )
    )
    return rows


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------- children
def make_settings(tmp: Path, model: str, device: str, **overrides: Any) -> Any:
    from bootstrap.settings import Settings

    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{tmp}/speed.db",
        storage_dir=tmp / "audio",
        asr_model=model,
        asr_device=device,  # type: ignore[arg-type]
        llm_provider="local",
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
    from core.persistence.repositories import JobRepository
    from core.queue import LocalJobQueue

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


def run_child(kind: str, spec: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Run one measurement in a fresh process; its result and its own peak RSS in bytes."""
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cmd = [sys.executable, "-m", "bench.speed", "--child", kind, "--spec", json.dumps(spec)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    # wait4: the rusage of this child alone (ru_maxrss in KiB on Linux).
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(
            f"the {kind} measurement of {spec.get('model')} failed ({proc.returncode})"
        )
    return parse_child_output(out), usage.ru_maxrss * 1024


# ---------------------------------------------------------------------- the report
@dataclass
class ModelResult:
    model: str
    pipeline: dict[str, Any]
    pipeline_rss: int
    peer: dict[str, Any]
    peer_rss: int
    throughput: dict[str, Any] | None = None
    throughput_rss: int | None = None


def per_file(model: ModelResult) -> list[dict[str, Any]]:
    """Each file's medians, pipeline and peer together."""
    peers = {f["file"]: f for f in model.peer["files"]}
    rows = []
    for f in model.pipeline["files"]:
        peer = peers[f["file"]]
        stages = {name: median(v) for name, v in f["stages"].items()}
        rows.append(
            {
                "name": Path(f["file"]).name,
                "audio_s": f["audio_s"],
                "channels": f["channels"],
                "per_channel": f["method"] == "channel",
                "wall_s": median(f["wall_s"]),
                "stages": stages,
                "peer_decode_s": median(peer["decode_s"]),
                "peer_asr_s": median(peer["asr_s"]),
                "peer_wall_s": median(
                    a + b for a, b in zip(peer["decode_s"], peer["asr_s"], strict=True)
                ),
                "words": f["words"],
                "peer_words": peer["words"],
            }
        )
    return rows


def aggregate(rows: list[dict[str, Any]]) -> tuple[float, float, float]:
    """Sum over the file set: audio seconds, end-to-end wall, ASR-stage seconds."""
    audio = sum(r["audio_s"] for r in rows)
    wall = sum(r["wall_s"] for r in rows)
    asr = sum(r["stages"].get("asr", 0.0) for r in rows)
    return audio, wall, asr


def report(results: list[ModelResult], args: argparse.Namespace, started: float) -> None:
    first = results[0].pipeline["files"][0]
    device = f"{first['asr_device']} {first['compute_type']}"
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"Machine: `nproc` = {len(os.sched_getaffinity(0))}, {cpu}; "
        f"ASR {device}. Date: {dt.date.today().isoformat()}. Median of {args.runs} runs after "
        "one warm-up analysis per file; content cache bypassed (every run computes every stage).\n"
    )

    print("### Real-time factor per stage (cells: median seconds, x real time)\n")
    header = ["model", "file", "audio", "end to end", *STAGE_ORDER, "rest (decode, store)"]
    rows = []
    for m in results:
        for r in per_file(m):
            cells = []
            for stage in STAGE_ORDER:
                cells.append(stage_cell(r["audio_s"], r["stages"].get(stage)))
            rest = max(0.0, r["wall_s"] - sum(r["stages"].values()))
            layout = "stereo" if r["channels"] == 2 else f"{r['channels']} ch"
            rows.append(
                [
                    m.model,
                    r["name"],
                    f"{r['audio_s']:.1f} s {layout}",
                    f"**{r['wall_s']:.2f} ({fmt_x(rtf(r['audio_s'], r['wall_s']))})**",
                    *cells,
                    f"{rest:.2f}",
                ]
            )
        audio, wall, asr = aggregate(per_file(m))
        rows.append(
            [m.model, "all files", f"{audio:.1f} s", f"**{wall:.2f} ({fmt_x(rtf(audio, wall))})**"]
            + [""] * len(STAGE_ORDER)
            + [""]
        )
    print(table(header, rows))

    print("\n### Load time (fresh process) and peak RSS\n")
    header = [
        "model",
        *(f"load {s} s" for s in LOAD_ORDER),
        "all stages s",
        "pipeline peak RSS",
        "bare faster-whisper: load s",
        "peak RSS",
    ]
    rows = []
    for m in results:
        load = m.pipeline["load_s"]
        rows.append(
            [
                m.model,
                *(f"{load.get(s, 0.0):.2f}" for s in LOAD_ORDER),
                f"{sum(load.values()):.2f}",
                fmt_gb(m.pipeline_rss),
                f"{m.peer['load_s']:.2f}",
                fmt_gb(m.peer_rss),
            ]
        )
    print(table(header, rows))
    print(
        "\nLoad times include the imports each engine does on first use (torch for the "
        "diarizer); sentiment's learned head reads the embedding model's vectors, so the "
        "embedding model is loaded (and paid for) by whichever of the two loads first. "
        "Pipeline peak RSS: the whole child process (all models loaded, warm-up and timed "
        "runs on every file)."
    )

    print("\n### Pipeline vs bare faster-whisper (the peer), same files, same settings\n")
    header = [
        "model",
        "file",
        "ASR on",
        "peer decode s",
        "peer transcribe s",
        "peer wall s",
        "pipeline ASR stage s",
        "pipeline end to end s",
        "ASR stage / peer transcribe",
        "end to end / peer wall",
        "words (pipeline / peer)",
    ]
    rows = []
    for m in results:
        for r in per_file(m):
            asr = r["stages"].get("asr", 0.0)
            rows.append(
                [
                    m.model,
                    r["name"],
                    "each channel" if r["per_channel"] else "mono mix",
                    f"{r['peer_decode_s']:.2f}",
                    f"{r['peer_asr_s']:.2f}",
                    f"{r['peer_wall_s']:.2f}",
                    f"{asr:.2f}",
                    f"{r['wall_s']:.2f}",
                    f"{asr / r['peer_asr_s']:.3f}",
                    f"**{r['wall_s'] / r['peer_wall_s']:.3f}**",
                    f"{r['words']} / {r['peer_words']}",
                ]
            )
    print(table(header, rows))
    print(
        "\nPeer: `WhisperModel(path, device, compute_type, cpu_threads)` on the same model "
        "directory, `transcribe(beam_size, vad_filter=True, word_timestamps=True, "
        "condition_on_previous_text=False)`, the file decoded by `faster_whisper.decode_audio` "
        "(`split_stereo=True` where the pipeline transcribed each channel). Pipeline words: "
        "after dropping cross-channel bleed on dual-channel calls."
    )

    measured = [m for m in results if m.throughput is not None]
    if measured:
        print("\n### Throughput: LocalJobQueue, temp SQLite, models loaded and warmed\n")
        header = ["model", "JOB_CONCURRENCY", "calls", "audio", "wall s", "calls / hour", "x RT"]
        rows = []
        for m in measured:
            assert m.throughput is not None
            audio_s = m.throughput["audio_s"]
            for run in m.throughput["runs"]:
                ok = "" if run["succeeded"] == run["calls"] else f" ({run['succeeded']} ok)"
                rows.append(
                    [
                        m.model,
                        run["concurrency"],
                        f"{run['calls']}{ok}",
                        f"{Path(args.throughput_audio).name} ({audio_s:.1f} s)",
                        f"{run['wall_s']:.1f}",
                        f"**{calls_per_hour(run['calls'], run['wall_s']):,.0f}**",
                        fmt_x(rtf(audio_s * run["calls"], run["wall_s"])),
                    ]
                )
        print(table(header, rows))
        rss = ", ".join(f"{m.model} {fmt_gb(m.throughput_rss or 0)}" for m in measured)
        print(f"\nPeak RSS of the throughput process: {rss}.")

    print("\n### Targets\n")
    target = next((m for m in results if m.model == TARGET_MODEL), None)
    if target is None:
        checks = check_targets(None, None, None)
    else:
        rows_ = per_file(target)
        audio, wall, asr = aggregate(rows_)
        slowest = min(rows_, key=lambda r: r["audio_s"] / r["wall_s"])
        note = f"all files; slowest: {slowest['name']} {fmt_x(rtf(slowest['audio_s'], slowest['wall_s']))}"
        checks = check_targets(
            rtf(audio, wall), non_asr_share(wall, asr), target.pipeline_rss, note=note
        )
    print(table(["target", "figure", "status"], [[c.target, c.figure, c.status] for c in checks]))
    print(
        "\nEnd to end and the non-ASR share are over the whole file set (sums of the per-file "
        "medians); the non-ASR share is (end to end - ASR stage) / ASR stage, so it counts "
        "decoding, storing and every other stage."
    )
    print(f"\nWall time of this benchmark: {time.perf_counter() - started:.0f} s.")


# ---------------------------------------------------------------------- main
def ensure_demo(path: Path) -> None:
    if path.exists():
        return
    print(f"rendering {path} (stereo demo call) ...", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "samples", "render", "demo", str(path), "--layout", "stereo"]
    subprocess.run(cmd, cwd=ROOT, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench speed", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--runs", type=int, default=3, help="timed runs per file (median)")
    parser.add_argument(
        "--audio",
        nargs="+",
        type=Path,
        default=None,
        help="files to time (default: the stereo demo call, pyannote_sample.wav, jfk.flac)",
    )
    parser.add_argument("--calls", type=int, default=6, help="calls for throughput (0: skip)")
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--throughput-audio", type=Path, default=DEMO)
    parser.add_argument(
        "--gpu", action="store_true", help="ASR_DEVICE=cuda (compute type auto: float16)"
    )
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        measured = asyncio.run(CHILDREN[args.child](json.loads(args.spec)))
        print(MARKER + json.dumps(measured), flush=True)
        return

    started = time.perf_counter()
    device = "cpu"
    if args.gpu:
        # NOTE: the --gpu path was written for a machine with a GPU and has not been run
        # here (the machine this was built on has none).
        from services.device import cuda_available

        if not cuda_available():
            print(
                "--gpu: CUDA is not available on this machine "
                "(no GPU seen by CTranslate2 or torch); nothing measured.",
                file=sys.stderr,
            )
            raise SystemExit(2)
        device = "cuda"
    files = list(args.audio) if args.audio else list(DEFAULT_FILES)
    wanted = [f.resolve() for f in files]
    if args.calls > 0:
        wanted.append(args.throughput_audio.resolve())
    if DEMO in wanted:
        ensure_demo(DEMO)
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise SystemExit(f"not found: {', '.join(missing)}")
    paths = [str(f.resolve()) for f in files]

    results = []
    for model in args.models:
        print(f"[{model}] pipeline ...", file=sys.stderr, flush=True)
        spec = {"model": model, "device": device, "runs": args.runs, "files": paths}
        pipeline, pipeline_rss = run_child("pipeline", spec)
        print(f"[{model}] bare faster-whisper ...", file=sys.stderr, flush=True)
        peer_files = [
            {"file": f["file"], "per_channel": f["method"] == "channel"} for f in pipeline["files"]
        ]
        peer, peer_rss = run_child("peer", {**spec, "files": peer_files})
        result = ModelResult(model, pipeline, pipeline_rss, peer, peer_rss)
        if args.calls > 0:
            print(f"[{model}] throughput ...", file=sys.stderr, flush=True)
            result.throughput, result.throughput_rss = run_child(
                "throughput",
                {
                    "model": model,
                    "device": device,
                    "audio": str(args.throughput_audio.resolve()),
                    "calls": args.calls,
                    "concurrency": args.concurrency,
                },
            )
        results.append(result)
    report(results, args, started)


if __name__ == "__main__":
    main()
