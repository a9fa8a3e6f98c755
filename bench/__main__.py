"""The measuring instrument: ``python -m bench <what> [options]`` (``make bench`` runs all).

    accuracy       WER, DER, speaker count, roles, sentiment, interruptions (bench/accuracy.py)
    speed          real-time factor per stage, peak RSS, load time, the bare faster-whisper
                   peer, throughput at JOB_CONCURRENCY 1 and 2 (bench/speed.py)
    der            DER of the diarizers on the real clips, pyannote.audio's pipeline beside
                   them (bench/der.py)
    overlap        interruptions, overlap, speaker count and roles of calls with planted
                   overlaps and third parties, end to end; diarization vs ASR time
                   (bench/overlap.py)
    load           REST read and search under concurrent clients, with wrk (bench/load.py)
    profile        the server's CPU per request by layer under wrk, sampled by py-spy, with
                   flame graphs (bench/profile.py)
    search         semantic search at 100,000 utterances (bench/search.py)
    grpc_overhead  one call all in-process vs all over gRPC (bench/grpc_overhead.py)
    pii            PII redaction recall and precision, and a call read aloud (bench/pii.py)
    spread         the suite's accuracy figures under other float paths (ISA, threads), beside
                   their bounds (bench/spread.py)
    llm            the analysis by field, rules against the local model, on the held-out
                   evaluation set (bench/llm.py)
    live           live calls over /v1/live: word latency, concurrent calls, live vs
                   post-call WER, alert latency (bench/live.py)
    vocabulary     WER and term recall on calls with made-up product names, with and
                   without a custom vocabulary (bench/vocabulary.py)
    export         the BI export's time and peak memory by number of calls
                   (bench/export.py)
    languages      calls in Spanish and German through the local model: the cost of every
                   field asked, and its sentiment labels (bench/languages.py)

Each prints markdown tables for bench/RESULTS.md; ``--help`` after a name gives its options.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = (
    "accuracy",
    "speed",
    "der",
    "overlap",
    "load",
    "profile",
    "search",
    "grpc_overhead",
    "pii",
    "spread",
    "llm",
    "live",
    "vocabulary",
    "export",
    "languages",
)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in COMMANDS:
        print(__doc__)
        raise SystemExit(0 if args[:1] in (["-h"], ["--help"]) else 2)
    name, rest = args[0], args[1:]
    sys.argv = [f"python -m bench {name}", *rest]
    importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main()
