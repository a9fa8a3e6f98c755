"""The markdown tables of bench/speed.py: stages, load and RSS, the peer, throughput and
the targets, printed for bench/RESULTS.md."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

from bench.speed_report import (
    LOAD_ORDER,
    STAGE_ORDER,
    TARGET_MODEL,
    ModelResult,
    aggregate,
    calls_per_hour,
    check_targets,
    fmt_gb,
    fmt_x,
    non_asr_share,
    per_file,
    rtf,
    stage_cell,
    table,
)


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
