"""In-process sentiment engines and the factory the container calls.

``SENTIMENT_MODEL`` picks the engine:

* ``learned`` (default): a logistic-regression head over the embedding model, trained on
  the shipped labelled call utterances (:mod:`services.sentiment.learned`);
* ``vader``: the VADER lexicon (:mod:`services.sentiment.vader`);
* a directory: a local transformers sequence-classification checkpoint
  (:mod:`services.sentiment.checkpoint`).

When the learned head cannot load (no embedder, embedding model missing or broken), the
stage falls back to VADER with a warning, and ``info()`` reports VADER and why.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from core.domain import Sentiment, StageInfo
from core.errors import ModelNotFoundError
from core.ports import Embedder, SentimentAnalyzer
from services.sentiment.checkpoint import HINT, TransformersSentimentAnalyzer
from services.sentiment.common import LoopLock
from services.sentiment.dataset import TRAIN_PATH
from services.sentiment.learned import LearnedSentimentAnalyzer
from services.sentiment.vader import VaderSentimentAnalyzer

__all__ = [
    "FallbackSentimentAnalyzer",
    "LearnedSentimentAnalyzer",
    "TransformersSentimentAnalyzer",
    "VaderSentimentAnalyzer",
    "build_sentiment_analyzer",
]

logger = logging.getLogger(__name__)


def _vader_instead(engine: str, reason: str) -> VaderSentimentAnalyzer:
    logger.warning("sentiment: %s engine unavailable (%s); falling back to VADER", engine, reason)
    return VaderSentimentAnalyzer(fallback_from=engine, fallback_reason=reason)


class FallbackSentimentAnalyzer:
    """Serves with ``primary`` unless its ``load()`` fails; then with VADER for good.

    ``info()`` describes whichever engine is active (the primary until a load was tried).
    """

    def __init__(self, primary: SentimentAnalyzer, engine: str = "learned") -> None:
        self._primary = primary
        self._engine = engine
        self._active: SentimentAnalyzer | None = None
        self._lock = LoopLock()

    @property
    def active(self) -> SentimentAnalyzer | None:
        return self._active

    def info(self) -> StageInfo:
        return (self._active or self._primary).info()

    async def load(self) -> None:
        if self._active is not None:
            return
        async with self._lock.get():
            if self._active is not None:
                return
            try:
                await self._primary.load()
                active: SentimentAnalyzer = self._primary
            except Exception as exc:  # any failure to load degrades to the lexicon
                active = _vader_instead(self._engine, f"{type(exc).__name__}: {exc}")
                await active.load()
            self._active = active

    async def analyze(self, texts: Sequence[str]) -> list[Sentiment]:
        await self.load()
        assert self._active is not None
        return await self._active.analyze(texts)


def build_sentiment_analyzer(
    model: str,
    embedder: Embedder | None,
    cache_dir: str | os.PathLike[str],
    device: str = "cpu",
) -> SentimentAnalyzer:
    """``model``: ``learned`` | ``vader`` | a checkpoint directory. Loads nothing itself.

    Raises ModelNotFoundError for a value that is neither a known name nor a directory.
    """
    choice = model.strip()
    if choice.lower() == "vader":
        return VaderSentimentAnalyzer()
    if choice.lower() == "learned":
        if embedder is None:
            return _vader_instead("learned", "no embedding model is configured")
        if not TRAIN_PATH.is_file():
            return _vader_instead("learned", f"the training data {TRAIN_PATH} is missing")
        return FallbackSentimentAnalyzer(LearnedSentimentAnalyzer(embedder, cache_dir), "learned")
    if Path(choice).expanduser().is_dir():
        return TransformersSentimentAnalyzer(choice, device=device)
    raise ModelNotFoundError(f"Unknown sentiment model {model!r}.", HINT)
