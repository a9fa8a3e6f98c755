"""Sentiment engines over fakes: label mapping, the cached head, the factory's fallback, data."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from core.domain import Role, SentimentLabel, StageInfo
from core.errors import ModelNotFoundError
from core.ports import SentimentAnalyzer
from services.sentiment.checkpoint import TransformersSentimentAnalyzer, label_matrix
from services.sentiment.common import sentiments_from_probabilities
from services.sentiment.dataset import EVAL_PATH, TRAIN_PATH, load_utterances
from services.sentiment.learned import LearnedSentimentAnalyzer, LinearHead
from services.sentiment.local import FallbackSentimentAnalyzer, build_sentiment_analyzer
from services.sentiment.vader import VaderSentimentAnalyzer, label_for_compound

POS, NEU, NEG = SentimentLabel.POSITIVE, SentimentLabel.NEUTRAL, SentimentLabel.NEGATIVE
GOOD = {"great", "thanks", "love", "perfect", "brilliant"}
BAD = {"awful", "useless", "angry", "broken", "worst"}


class WordEmbedder:
    """A fake Embedder: 3-d vectors counting good words, bad words and the rest."""

    def __init__(self, fail_load: bool = False) -> None:
        self.fail_load = fail_load
        self.calls: list[int] = []

    @property
    def dimension(self) -> int:
        return 3

    def info(self) -> StageInfo:
        return StageInfo(backend="local", engine="fake", model="word-counts")

    async def load(self) -> None:
        if self.fail_load:
            raise ModelNotFoundError("embedding model missing")

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        rows = []
        for text in texts:
            words = re.findall(r"[a-z]+", text.lower())
            good = sum(w in GOOD for w in words)
            bad = sum(w in BAD for w in words)
            rows.append([good, bad, len(words) - good - bad])
        vectors = np.asarray(rows, dtype=np.float32) + 1e-3
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def write_data(path: Path, extra: str = "") -> Path:
    rows = []
    for i in range(12):
        rows.append({"text": f"great thanks {extra} perfect {i}", "label": "positive"})
        rows.append({"text": f"awful useless broken {extra} number {i}", "label": "negative"})
        rows.append({"text": f"my account number is {extra} {i} please", "label": "neutral"})
    lines = [json.dumps({**r, "speaker": "customer"}) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------- common


def test_probabilities_give_argmax_label_and_pos_minus_neg_score() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.3, 0.4, 0.3]])
    out = sentiments_from_probabilities(probs)
    assert [s.label for s in out] == [POS, NEG, NEU]
    assert [round(s.score, 6) for s in out] == [0.6, -0.5, 0.0]


@pytest.mark.parametrize(
    ("compound", "label"),
    [(0.05, POS), (0.049, NEU), (0.0, NEU), (-0.049, NEU), (-0.05, NEG), (0.9, POS)],
)
def test_vader_thresholds(compound: float, label: SentimentLabel) -> None:
    assert label_for_compound(compound) == label


@pytest.mark.asyncio(loop_scope="function")
async def test_vader_analyzes_clear_lines_and_empty_input() -> None:
    vader = VaderSentimentAnalyzer()
    out = await vader.analyze(
        ["Thank you so much, that's wonderful!", "This is awful and I hate it."]
    )
    assert [s.label for s in out] == [POS, NEG]
    assert out[0].score > 0.5 and out[1].score < -0.5
    assert await vader.analyze([]) == []
    assert vader.info().engine == "vader" and "fallback_from" not in vader.info().extra


# ----------------------------------------------------------------- label mapping


@pytest.mark.parametrize(
    ("id2label", "columns"),
    [
        ({0: "NEGATIVE", 1: "POSITIVE"}, [NEG, POS]),
        ({"0": "negative", "1": "neutral", "2": "positive"}, [NEG, NEU, POS]),
        ({0: "pos", 1: "neg", 2: "neu"}, [POS, NEG, NEU]),
        ({0: "LABEL_0", 1: "LABEL_1"}, [NEG, POS]),
        ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, [NEG, NEU, POS]),
        ({i: f"{i + 1} star" + ("s" if i else "") for i in range(5)}, [NEG, NEG, NEU, POS, POS]),
        (
            {0: "Very Negative", 1: "Negative", 2: "Neutral", 3: "Positive", 4: "Very Positive"},
            [NEG, NEG, NEU, POS, POS],
        ),
    ],
)
def test_label_matrix_maps_checkpoint_labels(id2label: dict, columns: list) -> None:
    matrix = label_matrix(id2label)
    order = [POS, NEU, NEG]
    assert matrix.shape == (len(columns), 3)
    assert [order[int(np.argmax(row))] for row in matrix] == columns
    assert np.all(matrix.sum(axis=1) == 1)


@pytest.mark.parametrize(
    "id2label",
    [
        {0: "joy", 1: "anger"},
        {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2", 3: "LABEL_3"},
        {0: "neutral", 1: "positive"},
    ],
)
def test_label_matrix_rejects_what_it_cannot_map(id2label: dict) -> None:
    with pytest.raises(ModelNotFoundError):
        label_matrix(id2label)


# ------------------------------------------------------------------ learned head


def test_linear_head_round_trips_through_npz(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    head = LinearHead(rng.normal(size=(3, 4)), rng.normal(size=3), (NEG, NEU, POS))
    path = tmp_path / "head.npz"
    head.save(path)
    again = LinearHead.read(path, dimension=4)
    x = rng.normal(size=(5, 4))
    np.testing.assert_allclose(again.probabilities(x), head.probabilities(x))
    np.testing.assert_allclose(head.probabilities(x).sum(axis=1), 1.0)
    with pytest.raises(ValueError):
        LinearHead.read(path, dimension=8)
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


@pytest.mark.asyncio(loop_scope="function")
async def test_learned_head_trains_once_then_reads_the_cache(tmp_path: Path) -> None:
    data = write_data(tmp_path / "train.jsonl")
    cache = tmp_path / "cache"
    embedder = WordEmbedder()
    first = LearnedSentimentAnalyzer(embedder, cache, data_path=data)
    out = await first.analyze(["great, thanks, perfect", "useless and broken, awful", "  "])
    assert [s.label for s in out] == [POS, NEG, NEU]
    assert out[2].score == 0.0
    assert all(-1.0 <= s.score <= 1.0 for s in out)
    assert first.head_source == "trained"
    files = list(cache.glob("sentiment-head-*.npz"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns

    again = WordEmbedder()
    second = LearnedSentimentAnalyzer(again, cache, data_path=data)
    await second.load()
    assert second.head_source == "cache"
    assert again.calls == []  # the 36 training lines were not embedded again
    assert files[0].stat().st_mtime_ns == mtime
    assert second.info().extra["head"] == "cache"

    changed = LearnedSentimentAnalyzer(WordEmbedder(), cache, data_path=write_data(data, "x"))
    assert changed.cache_path() != files[0]


@pytest.mark.asyncio(loop_scope="function")
async def test_learned_head_survives_a_corrupt_cache(tmp_path: Path) -> None:
    data = write_data(tmp_path / "train.jsonl")
    analyzer = LearnedSentimentAnalyzer(WordEmbedder(), tmp_path, data_path=data)
    analyzer.cache_path().write_bytes(b"not an npz")
    assert [s.label for s in await analyzer.analyze(["love it, brilliant"])] == [POS]
    assert analyzer.head_source == "trained"


# ----------------------------------------------------------------------- factory


def test_factory_builds_vader() -> None:
    analyzer = build_sentiment_analyzer("vader", None, "/nonexistent")
    assert isinstance(analyzer, VaderSentimentAnalyzer)
    assert isinstance(analyzer, SentimentAnalyzer)


def test_factory_falls_back_to_vader_without_embedder() -> None:
    analyzer = build_sentiment_analyzer("learned", None, "/nonexistent")
    info = analyzer.info()
    assert info.engine == "vader" and info.extra["fallback_from"] == "learned"


@pytest.mark.asyncio(loop_scope="function")
async def test_factory_falls_back_to_vader_when_the_head_cannot_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    analyzer = build_sentiment_analyzer("learned", WordEmbedder(fail_load=True), tmp_path)
    assert isinstance(analyzer, FallbackSentimentAnalyzer)
    assert analyzer.info().engine == "learned"  # nothing tried yet
    out = await analyzer.analyze(["Thank you so much, that's wonderful!"])
    assert out[0].label == POS
    info = analyzer.info()
    assert info.engine == "vader"
    assert info.extra["fallback_from"] == "learned"
    assert "embedding model missing" in info.extra["reason"]
    assert any("falling back to VADER" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio(loop_scope="function")
async def test_factory_serves_learned_when_it_loads(tmp_path: Path) -> None:
    analyzer = build_sentiment_analyzer(" learned ", WordEmbedder(), tmp_path)
    await analyzer.load()
    assert analyzer.info().engine == "learned"
    assert list(tmp_path.glob("sentiment-head-*.npz"))


def test_factory_takes_a_checkpoint_directory_and_rejects_unknown_names(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    analyzer = build_sentiment_analyzer(str(tmp_path), None, tmp_path)
    assert isinstance(analyzer, TransformersSentimentAnalyzer)
    with pytest.raises(ModelNotFoundError, match="learned"):
        build_sentiment_analyzer("distilbert-sst2", None, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelNotFoundError):
        build_sentiment_analyzer(str(empty), None, tmp_path)


# -------------------------------------------------------------------------- data


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def test_shipped_data_is_large_balanced_and_disjoint_from_eval() -> None:
    train, held_out = load_utterances(TRAIN_PATH), load_utterances(EVAL_PATH)
    assert len(train) >= 600 and len(held_out) >= 140
    for rows in (train, held_out):
        counts = Counter(r.label for r in rows)
        assert set(counts) == {POS, NEU, NEG}
        assert min(counts.values()) / len(rows) > 0.28
        assert {r.speaker for r in rows} == {Role.AGENT, Role.CUSTOMER}
    train_texts = [_norm(r.text) for r in train]
    eval_texts = [_norm(r.text) for r in held_out]
    assert len(set(train_texts)) == len(train_texts)
    assert len(set(eval_texts)) == len(eval_texts)
    assert not set(train_texts) & set(eval_texts)


def test_load_utterances_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"text": "fine", "label": "neutral", "speaker": "agent"}\n'
        '{"text": "hmm", "label": "angry", "speaker": "agent"}\n'
    )
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        load_utterances(path)
