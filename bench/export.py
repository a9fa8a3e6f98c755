"""The BI export at size: time and peak memory of ``callytics export`` by number of calls.

.venv/bin/python -m bench export --calls 0,1000,4000 --utterances 40

Fills a throwaway SQLite database with synthetic analysed calls (``--utterances`` each, with
their words, as the pipeline stores them), then, for each size and format, runs the export
(core.calls.bi_stream.BiExport.write, what the command runs) in a fresh child process and
reports its wall and CPU time (the CPU time is the steadier figure on a shared machine), file
sizes and the child's peak RSS. A streamed
export's peak RSS stays flat as the calls grow; a full load would grow with them.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TEXT = "thanks for calling I can see the charge on your bill let me refund it now"
WORDS = TEXT.split(" ")


def document(n: int, utterances: int) -> dict[str, Any]:
    """A call document of the pipeline's shape (metrics, analysis, QA, words)."""
    at = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=n)
    said = []
    for i in range(utterances):
        start = i * 4.0
        words = [
            {"word": w, "start": start + k * 0.3, "end": start + k * 0.3 + 0.25, "probability": 0.9}
            for k, w in enumerate(WORDS)
        ]
        said.append(
            {
                "index": i,
                "speaker": f"S{i % 2 + 1}",
                "role": "agent" if i % 2 == 0 else "customer",
                "start": start,
                "end": start + 3.5,
                "text": " ".join(WORDS),
                "sentiment": {"label": "neutral", "score": 0.01},
                "words": words,
            }
        )
    speaker = {"channel": None, "talk_time_s": 70.0, "talk_ratio": 0.5, "words_per_minute": 150.0}
    return {
        "id": str(uuid.UUID(int=n + 1)),
        "filename": f"call-{n}.wav",
        "created_at": at.isoformat(),
        "status": "succeeded",
        "audio": {
            "duration_s": utterances * 4.0,
            "sample_rate": 8000,
            "channels": 2,
            "codec": "pcm",
        },
        "language": "en",
        "speakers": [
            {"id": "S1", "role": "agent", "interruptions": 1, "sentiment_mean": 0.2, **speaker},
            {"id": "S2", "role": "customer", "interruptions": 0, "sentiment_mean": -0.1, **speaker},
        ],
        "metrics": {
            "talk_time_s": 140.0,
            "silence_ratio": 0.1,
            "longest_silence_s": 2.0,
            "overlap_s": 0.5,
            "interruptions": 1,
            "mean_response_latency_s": 0.6,
            "customer_sentiment_trend": 0.01,
        },
        "analysis": {
            "summary": "The customer asked about a charge; the agent refunded it. " * 3,
            "topics": ["billing", "refund"],
            "reason": "a charge on the bill",
            "resolution": "resolved",
            "conflict": {"detected": False, "evidence": []},
            "provider": "rules",
            "model": "",
        },
        "qa": {"scorecard": "default", "method": "rules", "score": 80.0, "items": []},
        "utterances": said,
    }


def seed(url: str, calls: int, utterances: int) -> None:
    from core.persistence.database import Database
    from core.persistence.unit_of_work import UnitOfWork

    database = Database(url)
    database.upgrade()
    for start in range(0, calls, 250):
        with UnitOfWork(database) as uow:
            for n in range(start, min(calls, start + 250)):
                meta = {"agent": f"a-{n % 20}", "team": "billing", "external_id": f"C-{n}"}
                uow.calls.add(
                    document(n, utterances),
                    content_sha256=f"{n:064x}",
                    audio_path=None,
                    job_id=None,
                    call_vector=None,
                    utterance_vectors=None,
                    agent=meta["agent"],
                    metadata=meta,
                )
    database.dispose()


def child(url: str, fmt: str, folder: str) -> None:
    """Run in a fresh process: the export alone, then what it took."""
    from core.calls.bi_stream import BiExport, check_format
    from core.persistence.database import Database

    database = Database(url)
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    began = time.perf_counter()
    counts = BiExport(database).write(Path(folder), check_format(fmt), BiExport.criteria())
    seconds = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    rss_mib = usage.ru_maxrss / 1024
    sizes = {p.name: p.stat().st_size for p in Path(folder).iterdir()}
    print(
        json.dumps(
            {"seconds": seconds, "cpu": cpu, "counts": counts, "rss_mib": rss_mib, "sizes": sizes}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench export", description=__doc__)
    parser.add_argument("--calls", default="0,1000,4000", help="Sizes, comma-separated.")
    parser.add_argument("--utterances", type=int, default=40, help="Utterances per call.")
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print("| calls | utterances | format | wall s | CPU s | rows per CPU s | calls file "
          "| utterances file | peak RSS |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="callytics-export-bench-") as tmp:
        for calls in (int(n) for n in args.calls.split(",")):
            url = f"sqlite:///{tmp}/calls-{calls}.db"
            seed(url, calls, args.utterances)
            for fmt in args.formats.split(","):
                folder = f"{tmp}/out-{calls}-{fmt}"
                command = [sys.executable, "-m", "bench", "export", "--child", url, fmt, folder]
                out = subprocess.run(command, capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                rows = r["counts"]["calls"] + r["counts"]["utterances"]
                mib = {name: size / 2**20 for name, size in r["sizes"].items()}
                print(
                    f"| {r['counts']['calls']} | {r['counts']['utterances']} | {fmt} "
                    f"| {r['seconds']:.1f} | {r['cpu']:.1f} | {rows / max(r['cpu'], 1e-9):,.0f} "
                    f"| {mib[f'calls.{fmt}']:.2f} MiB | {mib[f'utterances.{fmt}']:.2f} MiB "
                    f"| {r['rss_mib']:.0f} MiB |"
                )


if __name__ == "__main__":
    main()
