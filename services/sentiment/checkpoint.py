"""Sentiment from a local transformers sequence-classification checkpoint directory.

Whatever the checkpoint calls its classes (POSITIVE/NEGATIVE, pos/neu/neg, LABEL_0..2,
"1 star".."5 stars"), :func:`label_matrix` folds its probabilities into positive, neutral and
negative. A checkpoint without a neutral class never answers neutral.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.domain import Sentiment, SentimentLabel, StageInfo
from core.errors import ModelNotFoundError
from services.sentiment.common import COLUMNS, analyze_non_blank, sentiments_from_probabilities

HINT = (
    "SENTIMENT_MODEL takes 'learned', 'vader' or the directory of a local transformers "
    "sequence-classification checkpoint (config.json, weights and tokenizer files)."
)
POS = COLUMNS.index(SentimentLabel.POSITIVE)
NEU = COLUMNS.index(SentimentLabel.NEUTRAL)
NEG = COLUMNS.index(SentimentLabel.NEGATIVE)
# Conventions of checkpoints that only number their classes (SST-2, cardiffnlp, nlptown).
GENERIC = {2: (NEG, POS), 3: (NEG, NEU, POS), 5: (NEG, NEG, NEU, POS, POS)}
STARS = re.compile(r"^([1-5])\s*stars?$")


def _column(name: str) -> int | None:
    text = name.strip().lower()
    stars = STARS.match(text)
    if stars:
        return GENERIC[5][int(stars.group(1)) - 1]
    if "neg" in text:
        return NEG
    if "pos" in text:
        return POS
    if "neu" in text:
        return NEU
    return None


def label_matrix(id2label: Mapping[int, str] | Mapping[str, str]) -> np.ndarray:
    """(num_labels, 3) 0/1 matrix: model probabilities @ matrix -> (pos, neu, neg)."""
    labels = {int(k): str(v) for k, v in id2label.items()}
    n = len(labels)
    if sorted(labels) != list(range(n)):
        raise ModelNotFoundError(f"id2label keys {sorted(labels)} are not 0..{n - 1}.", HINT)
    columns = [_column(labels[i]) for i in range(n)]
    if any(c is None for c in columns):
        if all(re.fullmatch(r"label_\d+", labels[i].lower()) for i in range(n)) and n in GENERIC:
            columns = list(GENERIC[n])
        else:
            raise ModelNotFoundError(
                f"Cannot map the checkpoint's labels {list(labels.values())} to "
                "positive/neutral/negative.",
                HINT,
            )
    if POS not in columns or NEG not in columns:
        raise ModelNotFoundError(
            f"Labels {list(labels.values())} lack a positive or negative.", HINT
        )
    matrix = np.zeros((n, len(COLUMNS)))
    for i, column in enumerate(columns):
        matrix[i, column] = 1.0
    return matrix


class TransformersSentimentAnalyzer:
    """Implements :class:`core.ports.SentimentAnalyzer`; score = P(positive) - P(negative)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        device: str = "cpu",
        batch_size: int = 32,
        max_length: int = 256,
    ) -> None:
        self._path = Path(path).expanduser()
        if not (self._path / "config.json").is_file():
            raise ModelNotFoundError(
                f"Sentiment model {str(path)!r} is not a transformers checkpoint directory.", HINT
            )
        self._device = device
        self._batch_size = batch_size
        self._max_length = max_length
        self._loaded: tuple[Any, Any, np.ndarray] | None = None
        self._lock = threading.Lock()

    def info(self) -> StageInfo:
        return StageInfo(
            backend="local", engine="transformers", model=str(self._path), device=self._device
        )

    async def load(self) -> None:
        await asyncio.to_thread(self._load_sync)

    async def analyze(self, texts: Sequence[str]) -> list[Sentiment]:
        return await analyze_non_blank(texts, self._analyze)

    async def _analyze(self, texts: list[str]) -> list[Sentiment]:
        probs = await asyncio.to_thread(self._probabilities_sync, texts)
        return sentiments_from_probabilities(probs)

    def _load_sync(self) -> tuple[Any, Any, np.ndarray]:
        with self._lock:
            if self._loaded is None:
                import torch
                from transformers import AutoModelForSequenceClassification, AutoTokenizer

                if self._device == "auto":
                    self._device = "cuda" if torch.cuda.is_available() else "cpu"
                try:
                    tokenizer = AutoTokenizer.from_pretrained(self._path, local_files_only=True)
                    model = AutoModelForSequenceClassification.from_pretrained(
                        self._path, local_files_only=True
                    )
                except (OSError, ValueError) as exc:
                    raise ModelNotFoundError(
                        f"Cannot load the sentiment checkpoint in {self._path}: {exc}", HINT
                    ) from exc
                matrix = label_matrix(model.config.id2label)
                model.to(self._device).eval()
                self._loaded = (tokenizer, model, matrix)
            return self._loaded

    def _probabilities_sync(self, texts: list[str]) -> np.ndarray:
        import torch

        tokenizer, model, matrix = self._load_sync()
        limit = min(
            self._max_length,
            getattr(tokenizer, "model_max_length", self._max_length),
            getattr(model.config, "max_position_embeddings", self._max_length),
        )
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(texts), self._batch_size):
                batch = tokenizer(
                    texts[start : start + self._batch_size],
                    padding=True,
                    truncation=True,
                    max_length=limit,
                    return_tensors="pt",
                ).to(self._device)
                logits = model(**batch).logits.float()
                chunks.append(torch.softmax(logits, dim=-1).cpu().numpy())
        return np.concatenate(chunks) @ matrix
