"""Accuracy of the learned head and of VADER on the held-out utterances.

    python -m services.sentiment.evaluate [--eval FILE] [--cache-dir DIR] [--embedding-model M]

Prints accuracy and a confusion matrix (rows: truth, columns: prediction) per engine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from core.domain import SentimentLabel
from core.ports import SentimentAnalyzer
from services.sentiment.common import COLUMNS
from services.sentiment.dataset import EVAL_PATH, LabelledUtterance, load_utterances


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    # confusion[truth][prediction] = count
    confusion: dict[SentimentLabel, dict[SentimentLabel, int]]
    errors: list[tuple[LabelledUtterance, SentimentLabel]]

    def table(self) -> str:
        width = max(len(c) for c in COLUMNS) + 2
        lines = ["truth \\ pred".ljust(14) + "".join(str(c).rjust(width) for c in COLUMNS)]
        for truth in COLUMNS:
            row = "".join(str(self.confusion[truth][p]).rjust(width) for p in COLUMNS)
            lines.append(str(truth).ljust(14) + row)
        return "\n".join(lines)


async def evaluate(analyzer: SentimentAnalyzer, rows: list[LabelledUtterance]) -> Evaluation:
    predictions = await analyzer.analyze([r.text for r in rows])
    confusion = {t: dict.fromkeys(COLUMNS, 0) for t in COLUMNS}
    errors = []
    for row, predicted in zip(rows, predictions, strict=True):
        confusion[row.label][predicted.label] += 1
        if predicted.label != row.label:
            errors.append((row, predicted.label))
    accuracy = 1.0 - len(errors) / len(rows) if rows else 0.0
    return Evaluation(accuracy, confusion, errors)


async def main(argv: list[str] | None = None) -> None:
    from services.embedding.local import DEFAULT_EMBEDDING_MODEL, SentenceTransformerEmbedder
    from services.sentiment.learned import LearnedSentimentAnalyzer
    from services.sentiment.vader import VaderSentimentAnalyzer

    parser = argparse.ArgumentParser(prog="python -m services.sentiment.evaluate")
    parser.add_argument("--eval", type=Path, default=EVAL_PATH, help="held-out jsonl")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("MODEL_CACHE_DIR", "~/.cache/callytics/models")),
    )
    parser.add_argument("--embedding-model", default=DEFAULT_EMBEDDING_MODEL)
    parser.add_argument("--errors", action="store_true", help="list the misclassified lines")
    args = parser.parse_args(argv)

    rows = load_utterances(args.eval)
    embedder = SentenceTransformerEmbedder(args.embedding_model)
    engines: dict[str, SentimentAnalyzer] = {
        "learned": LearnedSentimentAnalyzer(embedder, args.cache_dir),
        "vader": VaderSentimentAnalyzer(),
    }
    print(f"{len(rows)} held-out utterances from {args.eval}")
    for name, engine in engines.items():
        result = await evaluate(engine, rows)
        print(f"\n{name}: accuracy {result.accuracy:.3f} ({engine.info().model})")
        print(result.table())
        if args.errors:
            for row, predicted in result.errors:
                print(f"  {row.label:>8} -> {predicted:<8} {row.text}")


if __name__ == "__main__":
    asyncio.run(main())
