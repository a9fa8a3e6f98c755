"""The labelled call-centre utterances shipped with the package.

``call_utterances.jsonl`` trains the learned head; ``call_utterances_eval.jsonl`` holds
distinct sentences used only to evaluate it. One JSON object a line:
``{"text": ..., "label": "positive|neutral|negative", "speaker": "agent|customer"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.domain import Role, SentimentLabel

DATA_DIR = Path(__file__).resolve().parent / "corpus"
TRAIN_PATH = DATA_DIR / "call_utterances.jsonl"
EVAL_PATH = DATA_DIR / "call_utterances_eval.jsonl"


@dataclass(frozen=True)
class LabelledUtterance:
    text: str
    label: SentimentLabel
    speaker: Role


def load_utterances(path: Path = TRAIN_PATH) -> list[LabelledUtterance]:
    """Read and validate a jsonl file; a bad line raises ValueError naming the line."""
    rows = []
    with Path(path).open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                text = str(obj["text"]).strip()
                row = LabelledUtterance(text, SentimentLabel(obj["label"]), Role(obj["speaker"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a labelled utterance ({exc})") from exc
            if not text:
                raise ValueError(f"{path}:{number}: empty text")
            rows.append(row)
    return rows
