"""Lexicon sentiment with VADER: no model to load, thousands of utterances a second."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from core.domain import Sentiment, SentimentLabel, StageInfo

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# VADER's own recommended cut-offs on the compound score.
THRESHOLD = 0.05


def label_for_compound(compound: float) -> SentimentLabel:
    if compound >= THRESHOLD:
        return SentimentLabel.POSITIVE
    if compound <= -THRESHOLD:
        return SentimentLabel.NEGATIVE
    return SentimentLabel.NEUTRAL


def _vader_version() -> str:
    try:
        return version("vaderSentiment")
    except PackageNotFoundError:
        return "unknown"


class VaderSentimentAnalyzer:
    """Implements :class:`core.ports.SentimentAnalyzer`; score = VADER's compound score.

    ``fallback_reason`` is set when the factory chose VADER because the configured engine
    could not load; ``info()`` then says so.
    """

    def __init__(
        self, fallback_from: str | None = None, fallback_reason: str | None = None
    ) -> None:
        self._fallback_from = fallback_from
        self._fallback_reason = fallback_reason
        self._analyzer: SentimentIntensityAnalyzer | None = None
        self._lock = threading.Lock()

    def info(self) -> StageInfo:
        extra = {"languages": "en"}  # an English lexicon (core/analysis/languages.py)
        if self._fallback_from:
            extra["fallback_from"] = self._fallback_from
            extra["reason"] = self._fallback_reason or ""
        return StageInfo(
            backend="local", engine="vader", model=f"vaderSentiment-{_vader_version()}", extra=extra
        )

    async def load(self) -> None:
        await asyncio.to_thread(self._load_sync)

    async def analyze(self, texts: Sequence[str]) -> list[Sentiment]:
        items = [str(t) for t in texts]
        if not items:
            return []
        return await asyncio.to_thread(self._analyze_sync, items)

    def _load_sync(self) -> SentimentIntensityAnalyzer:
        with self._lock:
            if self._analyzer is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                self._analyzer = SentimentIntensityAnalyzer()
            return self._analyzer

    def _analyze_sync(self, texts: list[str]) -> list[Sentiment]:
        analyzer = self._load_sync()
        out = []
        for text in texts:
            compound = float(analyzer.polarity_scores(text)["compound"])
            out.append(Sentiment(label_for_compound(compound), compound))
        return out
