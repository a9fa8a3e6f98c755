"""Overlap, interruptions, speaker count and roles, end to end, as `callytics analyze` runs.

    .venv/bin/python -m bench overlap [--model base] [--out bench/out/overlap] [--long-s 300]

Renders the synthetic calls with planted interruptions and third parties (angry: two
customer interruptions; transfer: a supervisor takes over after a transfer, interrupted
once by the customer, as is the agent before him; three_party: the customer's father
joins) as mono and as dual-channel files, runs ``callytics analyze --json`` on each in a
fresh working directory (SQLite, LLM_PROVIDER=rules) and compares the document with the
render's truth: interruptions per interrupter, overlap seconds, speakers, roles. Then a
call of ``--long-s`` seconds (the mono renders joined) gives the diarization and ASR
stage times and the command's peak RSS. Prints markdown tables for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bench.scoring import RENDER_DEFAULTS, ROOT
from core.analysis.conversation import overlap_time
from core.domain import Interval
from samples.model import CallTruth

CALLS = [
    ("angry", "mono"),
    ("transfer", "mono"),
    ("three_party", "mono"),
    ("angry", "stereo"),
    ("transfer", "stereo"),
    ("three_party", "stereo"),
]


def render(name: str, layout: str, out: Path) -> tuple[Path, CallTruth]:
    from samples.__main__ import render_to, truth_path

    path = out / f"{name}.{layout}.wav"
    truth, _ = render_to(name, path, **{**RENDER_DEFAULTS, "layout": layout})
    if truth is None:
        truth = CallTruth.from_json(truth_path(path).read_text(encoding="utf-8"))
    return path, truth


def analyze(path: Path, model: str, workdir: Path) -> tuple[dict[str, Any], float, int]:
    """The document, the wall time and the peak RSS (KB) of one `callytics analyze`."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / "doc.json"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir}/callytics.db",
        "STORAGE_DIR": str(workdir / "audio"),
        "LLM_PROVIDER": "rules",
        "HF_HUB_OFFLINE": "1",
    }
    cli = str(Path(sys.executable).with_name("callytics"))
    cmd = ["/usr/bin/time", "-f", "%M", cli, "analyze", str(path), "--model", model]
    t0 = time.perf_counter()
    done = subprocess.run(
        [*cmd, "--json", str(out), "--no-report"], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{path.name}: analyze failed\n{done.stdout}\n{done.stderr}")
    rss_kb = int(done.stderr.strip().splitlines()[-1])
    return json.loads(out.read_text(encoding="utf-8")), seconds, rss_kb


def true_overlap(truth: CallTruth) -> float:
    """Seconds in which two or more speakers of the truth talk at once (the metric's rule)."""
    per_speaker: dict[str, list[Interval]] = {}
    for t in truth.turns:
        per_speaker.setdefault(t.speaker, []).append(Interval(t.start, t.end))
    return overlap_time(per_speaker)


def speaker_map(doc: dict[str, Any], truth: CallTruth) -> dict[str, str]:
    """Each found speaker -> the script speaker whose turns its utterances overlap most."""
    out: dict[str, str] = {}
    for s in doc["speakers"]:
        votes: Counter[str] = Counter()
        for u in doc["utterances"]:
            if u["speaker"] != s["id"]:
                continue
            for t in truth.turns:
                votes[t.speaker] += max(0.0, min(u["end"], t.end) - max(u["start"], t.start))
        out[s["id"]] = votes.most_common(1)[0][0] if votes else "?"
    return out


def interruptions_by(doc: dict[str, Any], mapping: dict[str, str]) -> Counter[str]:
    cut = set(doc["metrics"].get("interruption_utterances", []))
    return Counter(mapping.get(u["speaker"], "?") for u in doc["utterances"] if u["index"] in cut)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="base")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/overlap")
    parser.add_argument("--long-s", type=float, default=300.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    monos = []
    for name, layout in CALLS:
        path, truth = render(name, layout, args.out)
        if layout == "mono":
            monos.append(path)
        print(f"analysing {path.name}", file=sys.stderr, flush=True)
        doc, seconds, rss = analyze(path, args.model, args.out / f"run-{name}-{layout}")
        mapping = speaker_map(doc, truth)
        planted = Counter(i.interrupter for i in truth.interruptions)
        found = interruptions_by(doc, mapping)
        roles = {s["id"]: s["role"] for s in doc["speakers"]}
        truth_roles = {k: v["role"] for k, v in truth.speakers.items()}
        judged = [(s, mapping[s]) for s in roles if truth_roles.get(mapping[s]) != "unknown"]
        right = sum(roles[s] == truth_roles.get(t) for s, t in judged)
        rows.append(
            {
                "call": f"{name} ({layout})",
                "method": doc["stages"]["diarization"]["method"],
                "speakers": f"{len(doc['speakers'])} / {len(truth.speakers)}",
                "interruptions": f"{dict(sorted(found.items()))} / {dict(sorted(planted.items()))}",
                "exact": found == planted,
                "overlap": f"{doc['metrics']['overlap_s']:.2f} / {true_overlap(truth):.2f}",
                "overlap_ok": abs(doc["metrics"]["overlap_s"] - true_overlap(truth)) <= 0.3,
                "roles": f"{right}/{len(judged)}",
                "role_of": ", ".join(f"{mapping[s]}={roles[s]}" for s in sorted(roles)),
                "seconds": seconds,
                "rss_mb": rss / 1024,
            }
        )
    print(f"Model {args.model}; cells are found / truth. Roles: speakers right / judged (the")
    print("script's `unknown` third party is not judged; its role is listed).\n")
    print(
        "| call | method | speakers | interruptions by speaker | exact | overlap s | "
        "within 0.3 s | roles | roles found | wall s | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['call']} | {r['method']} | {r['speakers']} | {r['interruptions']} | "
            f"{'yes' if r['exact'] else 'no'} | {r['overlap']} | "
            f"{'yes' if r['overlap_ok'] else 'no'} | {r['roles']} | {r['role_of']} | "
            f"{r['seconds']:.0f} | {r['rss_mb']:.0f} |"
        )
    long_call(monos, args)


def long_call(monos: list[Path], args: argparse.Namespace) -> None:
    """Diarization vs ASR time and peak RSS on one mono call of ``--long-s`` seconds."""
    pieces = [sf.read(p, dtype="float32")[0] for p in monos]
    rate = sf.info(monos[0]).samplerate
    joined: list[np.ndarray] = []
    total = 0
    while total < args.long_s * rate:
        for x in pieces:
            joined.append(x)
            total += len(x)
    path = args.out / f"long-{int(args.long_s)}s.wav"
    sf.write(path, np.concatenate(joined)[: int(args.long_s * rate)], rate)
    doc, seconds, rss = analyze(path, args.model, args.out / "run-long")
    stages = doc["stages"]
    diarization, asr = stages["diarization"]["seconds"], stages["asr"]["seconds"]
    print(f"\n{args.long_s:.0f} s mono call ({os.cpu_count()} cores), model {args.model}:")
    print("| diarization s | asr s | diarization / asr | speakers | wall s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {diarization:.1f} | {asr:.1f} | {diarization / asr:.0%} | "
        f"{len(doc['speakers'])} | {seconds:.0f} | {rss / 1024:.0f} |"
    )


if __name__ == "__main__":
    main()
