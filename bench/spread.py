"""How far the suite's accuracy figures move when the float path changes.

A bound that one machine passes by 0.01 fails on another whose CPU takes other kernels. This
runs the accuracy tests (each bound is a ``tests.support.measure.bounded`` call that records
its figure) once per float path, emulating other x86-64 machines on this one: the
instruction set CTranslate2 (Whisper), oneDNN (its int8 GEMMs, torch's) and ATen dispatch to,
and the thread count. It prints each figure's values, its worst case and its margin to the
bound, for bench/RESULTS.md::

    .venv/bin/python -m bench spread [--paths native,avx2,...] [--out bench/out/spread]

ONNX Runtime (Silero VAD) has no such switch and keeps its native kernels.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TESTS = (
    "tests/integration/test_e2e.py::test_dual_channel_call_every_field_true",
    "tests/integration/test_e2e.py::test_mono_call_roles_from_content_and_metrics",
    "tests/integration/test_asr.py",
    "tests/integration/test_diarization.py",
    "tests/integration/test_sentiment_models.py::test_learned_head_beats_vader_on_the_held_out_calls",
)


def isa(ct2: str, onednn: str, aten: str | None = None) -> dict[str, str]:
    env = {"CT2_FORCE_CPU_ISA": ct2, "ONEDNN_MAX_CPU_ISA": onednn, "DNNL_MAX_CPU_ISA": onednn}
    return env | ({"ATEN_CPU_CAPABILITY": aten} if aten else {})


# name -> environment: each emulates a machine the suite may meet.
FLOAT_PATHS: dict[str, dict[str, str]] = {
    "native": {},  # this machine: AVX-512 with VNNI
    "avx512-no-vnni": isa("AVX512", "AVX512_CORE"),  # Skylake-SP class
    "avx2": isa("AVX2", "AVX2", "avx2"),  # most laptops and older servers
    "avx": isa("AVX", "AVX", "default"),  # no AVX2 at all
    "1-thread": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "ASR_CPU_THREADS": "1"},
}


def run_path(name: str, out: Path) -> Path:
    """Run the accuracy tests under one float path; their figures go to ``out/<name>.jsonl``."""
    records = out / f"{name}.jsonl"
    records.unlink(missing_ok=True)
    env = {**os.environ, **FLOAT_PATHS[name], "CALLYTICS_MEASUREMENTS": str(records)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS]
    print(f"# {name}: {' '.join(f'{k}={v}' for k, v in FLOAT_PATHS[name].items())}", flush=True)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:])
    return records


def table(out: Path, names: list[str]) -> str:
    figures: dict[tuple[str, str], dict[str, float]] = {}
    bounds: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    for name in names:
        path = out / f"{name}.jsonl"
        for line in path.read_text().splitlines() if path.exists() else []:
            r = json.loads(line)
            key = (r["test"].split("::")[-1][:48], r["name"])
            figures.setdefault(key, {})[name] = r["value"]
            bounds[key] = (r["above"], r["below"])
    head = "| figure | bound | " + " | ".join(names) + " | spread | worst margin |"
    rows = [head, "|" + "---|" * (len(names) + 4)]
    for key, values in figures.items():
        above, below = bounds[key]
        seen = list(values.values())
        margins = [
            m
            for m in (
                (below - max(seen)) if below is not None else None,
                (min(seen) - above) if above is not None else None,
            )
            if m is not None
        ]
        bound = " and ".join(
            b
            for b in (
                f"> {above:g}" if above is not None else "",
                f"< {below:g}" if below is not None else "",
            )
            if b
        )
        cells = " | ".join(f"{values[n]:.3f}" if n in values else "-" for n in names)
        rows.append(
            f"| {key[1]} | {bound} | {cells} | {max(seen) - min(seen):.3f} | {min(margins):.3f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", default=",".join(FLOAT_PATHS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "spread")
    parser.add_argument("--report-only", action="store_true", help="tabulate earlier runs")
    args = parser.parse_args()
    names = [n for n in args.paths.split(",") if n]
    unknown = set(names) - set(FLOAT_PATHS)
    if unknown:
        parser.error(f"unknown paths {sorted(unknown)}; known: {', '.join(FLOAT_PATHS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        for name in names:
            run_path(name, args.out)
    print(table(args.out, names))


if __name__ == "__main__":
    main()
