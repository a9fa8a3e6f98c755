"""Diarization error rate of the in-process diarizer on the real clips in tests/data.

.venv/bin/python -m bench.der [--data tests/data/audio]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate

from core.domain import DiarizationOptions
from services.decode.local import decode
from services.diarization.local import LocalDiarizer

CLIPS = [
    ("pyannote_sample.wav", "sample", "pyannote_sample.rttm", False),
    ("pyannote_dev00.wav", "dev00", "pyannote_debug.development.rttm", True),
    ("pyannote_dev01.wav", "dev01", "pyannote_debug.development.rttm", True),
]
UEM = "pyannote_debug.development.uem"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data/audio"
    )
    args = parser.parse_args()
    diarizer = LocalDiarizer()
    asyncio.run(diarizer.load())
    print("| clip | speakers | DER collar 0 | collar 0.25 | collar 0.5 | x real time |")
    print("|---|---|---|---|---|---|")
    for name, uri, truth, scored in CLIPS:
        audio = decode(args.data / name)
        ref = rttm(args.data / truth, uri)
        region = uem(args.data / UEM, uri) if scored else None
        t0 = time.perf_counter()
        result = asyncio.run(diarizer.diarize(audio, DiarizationOptions()))
        seconds = time.perf_counter() - t0
        hyp = Annotation(uri=uri)
        for turn in result.turns:
            hyp[Segment(turn.start, turn.end)] = turn.speaker
        ders = [DiarizationErrorRate(collar=c)(ref, hyp, uem=region) for c in (0.0, 0.25, 0.5)]
        cells = " | ".join(f"{100 * d:.1f}%" for d in ders)
        print(f"| {name} | {len(result.speakers)} | {cells} | {audio.duration_s / seconds:.0f}x |")


if __name__ == "__main__":
    main()
