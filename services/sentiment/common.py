"""Helpers shared by the sentiment engines: probabilities to a Sentiment, blank texts, locks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from core.domain import Sentiment, SentimentLabel

# Column order of every (n, 3) probability matrix in this package.
COLUMNS: tuple[SentimentLabel, ...] = (
    SentimentLabel.POSITIVE,
    SentimentLabel.NEUTRAL,
    SentimentLabel.NEGATIVE,
)
BLANK = Sentiment(SentimentLabel.NEUTRAL, 0.0)


def sentiments_from_probabilities(probs: np.ndarray) -> list[Sentiment]:
    """Rows of (P(positive), P(neutral), P(negative)) -> label = argmax, score = P(pos) - P(neg)."""
    out = []
    for row in np.asarray(probs, dtype=np.float64):
        score = float(np.clip(row[0] - row[2], -1.0, 1.0))
        out.append(Sentiment(COLUMNS[int(np.argmax(row))], score))
    return out


async def analyze_non_blank(
    texts: Sequence[str], run: Callable[[list[str]], Awaitable[list[Sentiment]]]
) -> list[Sentiment]:
    """Run ``run`` on the texts that hold words; blank ones are neutral 0.0 without a model."""
    items = [str(t) for t in texts]
    keep = [i for i, t in enumerate(items) if t.strip()]
    out = [BLANK] * len(items)
    if keep:
        for i, sentiment in zip(keep, await run([items[i] for i in keep]), strict=True):
            out[i] = sentiment
    return out


class LoopLock:
    """An asyncio.Lock for whichever event loop is running.

    Engines are process-wide singletons, but tests (and CLIs) may drive them from several
    event loops one after the other; an asyncio.Lock must not outlive its loop.
    """

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
        return self._lock
