"""Diarization error rate of each diarizer on the real clips in tests/data, same run.

    .venv/bin/python -m bench der [--backends segmentation,clustering,pyannote]
                                  [--data tests/data/audio] [--pyannote-python PATH]

``segmentation`` (the default for mono: segmentation-3.0 + CAM++ in plain torch) and
``clustering`` (Silero VAD + resemblyzer) run here; ``pyannote`` is pyannote.audio's own
``SpeakerDiarization`` pipeline with the same segmentation-3.0 and CAM++ weights (the
peer), run in ``.venv-pyannote`` (``make pyannote``) as a child process of this command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate

from core.domain import DiarizationOptions
from services.decode.local import decode

CLIPS = [
    ("pyannote_sample.wav", "sample", "pyannote_sample.rttm", False),
    ("pyannote_dev00.wav", "dev00", "pyannote_debug.development.rttm", True),
    ("pyannote_dev01.wav", "dev01", "pyannote_debug.development.rttm", True),
]
UEM = "pyannote_debug.development.uem"
COLLARS = (0.0, 0.25, 0.5)
ROOT = Path(__file__).resolve().parents[1]


def rttm(path: Path, uri: str) -> Annotation:
    ann = Annotation(uri=uri)
    for parts in (line.split() for line in path.read_text().splitlines()):
        if len(parts) >= 8 and parts[0] == "SPEAKER" and parts[1] == uri:
            ann[Segment(float(parts[3]), float(parts[3]) + float(parts[4]))] = parts[7]
    return ann


def uem(path: Path, uri: str) -> Timeline | None:
    for parts in (line.split() for line in path.read_text().splitlines()):
        if len(parts) >= 4 and parts[0] == uri:
            return Timeline([Segment(float(parts[2]), float(parts[3]))], uri=uri)
    return None


def diarizer(backend: str):  # type: ignore[no-untyped-def]
    if backend == "pyannote":
        from services.diarization.pyannote import PyannoteDiarizer

        return PyannoteDiarizer(ROOT / "models/pyannote", device="cpu")
    from services.diarization.local import LocalDiarizer

    return LocalDiarizer(mono_method="clustering" if backend == "clustering" else "segmentation")


def measure(backend: str, data: Path) -> list[dict[str, object]]:
    """One row per clip: speakers found and DER at each collar, speed."""
    engine = diarizer(backend)
    asyncio.run(engine.load())
    rows: list[dict[str, object]] = []
    for name, uri, truth, scored in CLIPS:
        audio = decode(data / name)
        ref = rttm(data / truth, uri)
        region = uem(data / UEM, uri) if scored else None
        t0 = time.perf_counter()
        result = asyncio.run(engine.diarize(audio, DiarizationOptions()))
        seconds = time.perf_counter() - t0
        hyp = Annotation(uri=uri)
        for turn in result.turns:
            hyp[Segment(turn.start, turn.end), len(hyp)] = turn.speaker
        ders = [DiarizationErrorRate(collar=c)(ref, hyp, uem=region) for c in COLLARS]
        rows.append(
            {
                "backend": backend,
                "clip": name,
                "truth": len(ref.labels()),
                "speakers": len(result.speakers),
                "der": ders,
                "speed": audio.duration_s / seconds,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data/audio"
    )
    parser.add_argument("--backends", default="segmentation,clustering,pyannote")
    parser.add_argument("--pyannote-python", type=Path, default=ROOT / ".venv-pyannote/bin/python")
    parser.add_argument("--json", action="store_true", help="rows as JSON (for the peer's run)")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    for backend in args.backends.split(","):
        if backend == "pyannote" and not args.json:
            rows += peer(args.pyannote_python, args.data)
        else:
            rows += measure(backend, args.data)
    if args.json:
        print(json.dumps(rows))
        return
    print(
        "| backend | clip | speakers (truth) | DER collar 0 | collar 0.25 | collar 0.5 | x real time |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ders = r["der"]
        assert isinstance(ders, list)
        cells = " | ".join(f"{100 * d:.1f}%" for d in ders)
        print(
            f"| {r['backend']} | {r['clip']} | {r['speakers']} ({r['truth']}) | {cells} | "
            f"{r['speed']:.0f}x |"
        )


def peer(python: Path, data: Path) -> list[dict[str, object]]:
    """pyannote.audio's pipeline, measured by this module in the pyannote venv."""
    if not python.is_file():
        print(f"(pyannote peer skipped: {python} missing; run `make pyannote`)", file=sys.stderr)
        return []
    done = subprocess.run(
        [str(python), "-m", "bench.der", "--backends", "pyannote", "--json", "--data", str(data)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows: list[dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return rows


if __name__ == "__main__":
    main()
