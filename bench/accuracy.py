"""Accuracy of the whole pipeline: WER, DER, speaker count, roles, sentiment, interruptions.

    .venv/bin/python -m bench accuracy [--models tiny.en,base] [--calls a,b] [--variants v,w]
                                       [--data tests/data] [--cache bench/out/accuracy]
                                       [--no-real] [--documents DIR]

Every synthetic call (samples/scripts) is rendered in five variants into ``--cache`` (file
names carry the render hash, so a rerun renders nothing) and analysed end to end with
``analysis().analyze_file`` per ASR model (SQLite in a temp dir, LLM_PROVIDER=rules), as are
the real recordings in tests/data (jfk.flac, the pyannote/AMI clips of bench/der.py).
Prints one markdown table per figure for bench/RESULTS.md; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pyannote.core import Segment, Timeline

# The Whisper normaliser wants Whisper's British->American spelling map (``normalizer.json``
# of the hub tokenizer); no copy of it ships offline here, so the map is empty: "colour" vs
# "color" counts as an error. Everything else (numbers, contractions, titles) is normalised.
from bench.accuracy_report import Report
from bench.der import CLIPS, UEM, rttm, uem
from bench.scoring import (
    AS_RECORDED,
    RENDER_DEFAULTS,
    ROOT,
    VARIANTS,
    Item,
    Run,
    Variant,
    annotation,
    jfk_text,
)
from samples.model import CallTruth, TurnTruth


def render(name: str, variant: Variant, cache: Path) -> Item:
    from samples.__main__ import render_to, truth_path
    from samples.catalog import load_script
    from samples.synth import render_hash, render_params

    options = {**RENDER_DEFAULTS, **variant.options}
    script = load_script(name)
    digest = render_hash(script, **render_params(Path("x" + variant.suffix), **options))
    out = cache / f"{name}.{variant.key}.{digest[:12]}{variant.suffix}"
    render_to(name, out, **options)
    truth = CallTruth.from_json(truth_path(out).read_text(encoding="utf-8"))
    turns = [(t.speaker, t.start, t.end) for t in truth.turns]
    uri = f"{name}.{variant.key}"
    return Item(
        name,
        variant.key,
        out,
        len(truth.speakers),
        " ".join(t.text for t in truth.turns),
        annotation(turns, uri),
        Timeline([Segment(0, truth.duration)], uri=uri),
        truth,
    )


def real_items(data: Path) -> list[Item]:
    audio = data / "audio"
    items = [Item("jfk.flac", AS_RECORDED, audio / "jfk.flac", 1, jfk_text(data / "README.md"))]
    for name, uri, truth, scored in CLIPS:
        ref = rttm(audio / truth, uri)
        region = uem(audio / UEM, uri) if scored else None
        items.append(Item(name, AS_RECORDED, audio / name, len(ref.labels()), None, ref, region))
    return items


# ---------------------------------------------------------------------- running
class RecordingDiarizer:
    """The configured diarizer, keeping its last result (the DER hypothesis)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.last: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def diarize(self, *args: Any, **kwargs: Any) -> Any:
        self.last = await self.inner.diarize(*args, **kwargs)
        return self.last


async def run_model(model: str, items: list[Item], tmp: Path) -> tuple[list[Run], Any]:
    from dependency_injector import providers

    from bootstrap.container import build_container
    from bootstrap.settings import Settings

    slug = re.sub(r"\W", "_", model)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{tmp}/{slug}.db",
        storage_dir=tmp / f"{slug}-audio",
        store_audio=False,
        asr_model=model,
        llm_provider="rules",
    )
    container = build_container(settings)
    container.database().upgrade()
    recorder = RecordingDiarizer(container.diarizer())
    container.diarizer.override(providers.Object(recorder))
    service = container.analysis()
    await service.pipeline.load()
    runs = []
    for n, item in enumerate(items, 1):
        t0 = time.perf_counter()
        document = await service.analyze_file(item.path)
        seconds = time.perf_counter() - t0
        uri = f"{item.name}.{item.variant}"
        hyp = annotation(((t.speaker, t.start, t.end) for t in recorder.last.turns), uri)
        runs.append(Run(item, model, document, hyp, seconds))
        print(
            f"[{model} {n}/{len(items)}] {item.name} {item.variant}: {seconds:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return runs, container.sentiment()


async def text_sentiment(analyzer: Any, turns: list[TurnTruth]) -> dict[str, tuple[int, int]]:
    """Accuracy of the sentiment stage on truth text: the held-out set and the script turns."""
    from services.sentiment.dataset import EVAL_PATH, load_utterances
    from services.sentiment.evaluate import evaluate

    rows = load_utterances(EVAL_PATH)
    held_out = await evaluate(analyzer, rows)
    labelled = [t for t in turns if t.sentiment is not None]
    found = await analyzer.analyze([t.text for t in labelled])
    right = sum(f.label == t.sentiment for f, t in zip(found, labelled, strict=True))
    return {
        f"held-out set ({EVAL_PATH.name})": (
            len(rows) - len(held_out.errors),
            len(rows),
        ),
        "script turns": (right, len(labelled)),
    }


# ----------------------------------------------------------------------- tables
def main() -> None:
    from samples.catalog import script_names

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ["LLM_PROVIDER"] = "rules"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny.en,base", help="ASR models, comma-separated")
    parser.add_argument("--calls", default=",".join(script_names()), help="synthetic scripts")
    parser.add_argument("--variants", default=",".join(v.key for v in VARIANTS))
    default_data = Path(os.environ.get("CALLYTICS_SHARED_DATA", ROOT / "tests" / "data"))
    parser.add_argument("--data", type=Path, default=default_data, help="has audio/ + README.md")
    parser.add_argument("--no-real", action="store_true", help="skip the real recordings")
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / "out" / "accuracy")
    parser.add_argument("--documents", type=Path, help="also write each result document here")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    known = {v.key: v for v in VARIANTS}
    unknown = set(args.variants.split(",")) - set(known)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; known: {', '.join(known)}")
    variants = [known[k] for k in args.variants.split(",")]
    started = time.perf_counter()
    items = [] if args.no_real else real_items(args.data)
    items += [render(n, v, args.cache) for n in args.calls.split(",") if n for v in variants]
    print(
        f"rendered/found {len(items)} files in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )

    async def run_all() -> Report:
        report = Report([], variants, models)
        with tempfile.TemporaryDirectory(prefix="callytics-accuracy-") as tmp:
            for model in models:
                runs, analyzer = await run_model(model, items, Path(tmp))
                report.runs += runs
                if not report.text_scores:
                    turns = [
                        t
                        for i in items
                        if i.truth
                        for t in i.truth.turns
                        if i.variant == variants[0].key
                    ]
                    report.text_scores = await text_sentiment(analyzer, turns)
        return report

    report = asyncio.run(run_all())
    if args.documents:
        for r in report.runs:
            out = args.documents / r.model / f"{r.item.name}.{r.item.variant}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(r.document, indent=1, default=str), encoding="utf-8")
    wall = time.perf_counter() - started
    audio = sum(float(r.document["audio"]["duration_s"]) for r in report.runs)
    command = shlex.join([".venv/bin/python", "-m", "bench", "accuracy", *sys.argv[1:]])
    print(f"```\n{command}\n```\n")
    for part in (
        report.wer,
        report.der,
        report.speakers,
        report.roles,
        report.sentiment,
        report.interruptions,
    ):
        print(part())
    for m in models:
        runs = [r for r in report.runs if r.model == m]
        seconds = sum(r.seconds for r in runs)
        minutes = sum(float(r.document["audio"]["duration_s"]) for r in runs) / 60
        print(
            f"{m}: {len(runs)} analyses, {minutes:.1f} min of audio in {seconds:.0f} s "
            f"({60 * minutes / seconds:.1f}x real time)."
        )
    print(
        f"{len(report.runs)} analyses, {audio / 60:.1f} min of audio, wall {wall:.0f} s on {os.cpu_count()} CPUs."
    )


if __name__ == "__main__":
    main()
