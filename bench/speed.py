"""Speed: x real time per stage, load time, peak RSS, bare faster-whisper, calls per hour.

Real-time factor per stage and end to end, model load time, peak RSS, the bare
faster-whisper peer side by side, and throughput at JOB_CONCURRENCY 1 and 2.

    .venv/bin/python -m bench speed [--models tiny.en base] [--runs 3] [--calls 6]
                                    [--audio FILE ...] [--concurrency 1 2] [--gpu]

For each ASR model, three fresh child processes (this module with the hidden ``--child``
flag), so that no model's memory or warm caches reach another measurement; each one's peak
RSS is read from ``os.wait4`` when it exits (the rusage of that child alone: the
``RUSAGE_CHILDREN`` total of the parent would be the largest of all children so far):

* ``pipeline``: builds the container (temp SQLite, LLM_PROVIDER=rules, the content cache
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

This module is the command and the orchestration (spawning the children, collecting their
JSON); what each child measures is in bench/speed_children.py, the pure helpers and the
targets check in bench/speed_report.py, the markdown tables in bench/speed_tables.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.speed_children import CHILDREN
from bench.speed_report import MARKER, ModelResult, parse_child_output
from bench.speed_tables import report

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data/samples/demo_call.wav"
SHARED_AUDIO = ROOT / "tests/data/audio"
DEFAULT_FILES = (DEMO, SHARED_AUDIO / "pyannote_sample.wav", SHARED_AUDIO / "jfk.flac")
DEFAULT_MODELS = ("tiny.en", "base")


# ---------------------------------------------------------------------- children
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
