"""PII redaction: recall and precision on the labelled set, and on a call read aloud.

    .venv/bin/python -m bench pii [--cases 2000] [--models tiny.en,base]

1. The labelled set (samples/pii.py): utterances as a recogniser writes them, with every
   kind of personal data in written and spoken forms, and look-alikes that are not.
2. The `pii` script (samples/scripts/pii.json: a name, a date of birth, a card number and a
   phone number read aloud), rendered with espeak-ng and analysed with REDACT_PII=true by
   each model: which of its entities were tagged, and whether any digit of the card or the
   phone number is left in the stored text.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from pathlib import Path

from core.analysis.pii import find
from samples.pii import HARD, labelled_set, score

LEAKS = ("4572", "1234", "5678", "9012", "555", "213", "4769")


def labelled(cases: int) -> None:
    table(f"Labelled set: {cases} utterances (samples/pii.py, seed 7)", labelled_set(cases))
    table("Other phrasings (samples/pii.py HARD, 20 utterances)", HARD)


def table(title: str, cases: list) -> None:  # type: ignore[type-arg]
    report = score(cases, find)
    print(f"\n{title}\n")
    print("| type | spans | recall | precision |")
    print("|---|---|---|---|")
    for kind, figures in report.items():
        print(
            f"| {kind} | {int(figures['spans'])} | {figures['recall']:.3f} | "
            f"{figures['precision']:.3f} |"
        )


def read_aloud(models: list[str]) -> None:
    from bootstrap.container import build_container
    from bootstrap.settings import Settings
    from samples import load_script, render_call

    script = load_script("pii")
    expected = set(script.expected["pii"])
    print(f"\nThe `pii` call read aloud (stereo 16 kHz); expected: {', '.join(sorted(expected))}\n")
    print("| model | tagged | missed | extra | digits left in the text | seconds |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="callytics-pii-") as tmp_name:
        tmp = Path(tmp_name)
        render_call(script, tmp / "pii.wav", layout="stereo")
        for model in models:
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                database_url=f"sqlite:///{tmp}/{model}.db",
                storage_dir=tmp / model,
                asr_model=model,
                llm_provider="rules",
                redact_pii=True,
            )
            container = build_container(settings)
            container.database().upgrade()
            service = container.analysis()
            started = time.perf_counter()
            document = asyncio.run(service.analyze_file(tmp / "pii.wav"))
            seconds = time.perf_counter() - started
            found = set(document["redaction"]["counts"])
            text = " ".join(u["text"] for u in document["utterances"])
            left = [d for d in LEAKS if re.search(rf"\b{d}\b", text)]
            print(
                f"| {model} | {', '.join(sorted(found & expected))} | "
                f"{', '.join(sorted(expected - found)) or '-'} | "
                f"{', '.join(sorted(found - expected)) or '-'} | {', '.join(left) or 'none'} | "
                f"{seconds:.1f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--models", default="tiny.en,base")
    args = parser.parse_args()
    labelled(args.cases)
    read_aloud([m for m in args.models.split(",") if m])


if __name__ == "__main__":
    main()
