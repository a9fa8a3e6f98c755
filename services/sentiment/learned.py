"""Learned sentiment: a logistic-regression head over the sentence embeddings.

The head is trained on the shipped labelled utterances the first time it is needed (a few
seconds on a CPU) and cached as plain arrays in
``<model_cache_dir>/sentiment-head-<hash>.npz``; the hash covers the data, the embedding
model and the training settings, so changing any of them trains a new head. Inference is
the embedder's forward pass plus one small matrix product.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from core.domain import Sentiment, SentimentLabel, StageInfo
from core.ports import Embedder
from services.sentiment.common import (
    COLUMNS,
    LoopLock,
    analyze_non_blank,
    sentiments_from_probabilities,
)
from services.sentiment.dataset import TRAIN_PATH, load_utterances

logger = logging.getLogger(__name__)

HEAD_VERSION = 1
# Inverse regularisation strength, chosen by 5-fold cross-validation on the training file
# only (accuracy plateaus at about 0.84 from C=4 upwards); the eval file played no part.
HEAD_C = 4.0


@dataclass(frozen=True)
class LinearHead:
    """Multinomial logistic regression: softmax(X @ coef.T + intercept)."""

    coef: np.ndarray  # (k, dimension)
    intercept: np.ndarray  # (k,)
    classes: tuple[SentimentLabel, ...]

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(n, dimension) -> (n, 3) in the column order positive, neutral, negative."""
        logits = np.asarray(vectors, dtype=np.float64) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        out = np.zeros((len(probs), len(COLUMNS)))
        for j, label in enumerate(self.classes):
            out[:, COLUMNS.index(label)] = probs[:, j]
        return out

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename): readers never see half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(
                    fh,
                    coef=self.coef,
                    intercept=self.intercept,
                    classes=np.array([str(c) for c in self.classes]),
                )
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def read(cls, path: Path, dimension: int) -> LinearHead:
        with np.load(path, allow_pickle=False) as npz:
            coef = np.asarray(npz["coef"], dtype=np.float64)
            intercept = np.asarray(npz["intercept"], dtype=np.float64)
            classes = tuple(SentimentLabel(str(c)) for c in npz["classes"])
        if coef.shape != (len(classes), dimension) or intercept.shape != (len(classes),):
            raise ValueError(f"shapes {coef.shape}/{intercept.shape} do not fit {dimension}-d")
        return cls(coef, intercept, classes)


def fit_head(
    vectors: np.ndarray, labels: Sequence[SentimentLabel], c: float = HEAD_C
) -> LinearHead:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    model.fit(np.asarray(vectors, dtype=np.float64), [str(label) for label in labels])
    classes = tuple(SentimentLabel(str(c)) for c in model.classes_)
    return LinearHead(np.array(model.coef_), np.array(model.intercept_), classes)


class LearnedSentimentAnalyzer:
    """Implements :class:`core.ports.SentimentAnalyzer` with the injected embedder."""

    def __init__(
        self,
        embedder: Embedder,
        cache_dir: str | os.PathLike[str],
        data_path: Path = TRAIN_PATH,
        c: float = HEAD_C,
    ) -> None:
        self._embedder = embedder
        self._cache_dir = Path(cache_dir).expanduser()
        self._data_path = Path(data_path)
        self._c = c
        self._head: LinearHead | None = None
        self._cache_path: Path | None = None
        # Where the head came from: read from the cache or trained in this process.
        self.head_source: Literal["cache", "trained"] | None = None
        self._lock = LoopLock()

    def cache_path(self) -> Path:
        """``sentiment-head-<hash>.npz``, the hash over data, embedding model and settings."""
        digest = hashlib.sha256()
        embedding = self._embedder.info().model
        digest.update(
            f"v{HEAD_VERSION}|C={self._c}|{embedding}|{self._embedder.dimension}|".encode()
        )
        digest.update(self._data_path.read_bytes())
        return self._cache_dir / f"sentiment-head-{digest.hexdigest()[:16]}.npz"

    def info(self) -> StageInfo:
        embedding = self._embedder.info()
        return StageInfo(
            backend="local",
            engine="learned",
            model=f"logistic-regression over {embedding.model}",
            device=embedding.device,
            extra={
                "embedding_model": embedding.model,
                "head": self.head_source,
                "cache": str(self._cache_path) if self._cache_path else None,
                # trained on English utterances over an English embedding model
                "languages": "en",
            },
        )

    async def load(self) -> None:
        if self._head is not None:
            return
        async with self._lock.get():
            if self._head is not None:
                return
            await self._embedder.load()
            path = await asyncio.to_thread(self.cache_path)
            head = await asyncio.to_thread(self._read_cached, path)
            source: Literal["cache", "trained"] = "cache"
            if head is None:
                head, source = await self._train(), "trained"
                await asyncio.to_thread(self._write_cache, head, path)
            self._cache_path, self.head_source, self._head = path, source, head

    async def analyze(self, texts: Sequence[str]) -> list[Sentiment]:
        return await analyze_non_blank(texts, self._analyze)

    async def _analyze(self, texts: list[str]) -> list[Sentiment]:
        await self.load()
        assert self._head is not None
        vectors = await self._embedder.embed(texts)
        probs = await asyncio.to_thread(self._head.probabilities, vectors)
        return sentiments_from_probabilities(probs)

    async def _train(self) -> LinearHead:
        rows = await asyncio.to_thread(load_utterances, self._data_path)
        logger.info(
            "training the sentiment head on %d utterances from %s", len(rows), self._data_path
        )
        vectors = await self._embedder.embed([r.text for r in rows])
        return await asyncio.to_thread(fit_head, vectors, [r.label for r in rows], self._c)

    def _read_cached(self, path: Path) -> LinearHead | None:
        if not path.is_file():
            return None
        try:
            return LinearHead.read(path, self._embedder.dimension)
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("ignoring unreadable sentiment head %s (%s); retraining", path, exc)
            return None

    @staticmethod
    def _write_cache(head: LinearHead, path: Path) -> None:
        try:
            head.save(path)
        except OSError as exc:  # a read-only cache costs a retrain per process, not a failure
            logger.warning("could not cache the sentiment head at %s: %s", path, exc)
