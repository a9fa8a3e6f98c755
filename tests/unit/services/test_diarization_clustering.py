"""Speaker counting and clustering on synthetic embeddings (no model).

The embeddings imitate resemblyzer's: 256-d, non-negative, L2-normalised; windows of one
speaker scatter around a voice centre. Calls are laid out as turns of 1.6 s windows every
0.4 s, as the engine makes them.
"""

from __future__ import annotations

import numpy as np
import pytest

from services.diarization import clustering as C

DIM = 256


def voice(rng: np.random.Generator) -> np.ndarray:
    v = np.abs(rng.normal(size=DIM))
    return v / np.linalg.norm(v)


def voice_near(rng: np.random.Generator, base: np.ndarray, similarity: float) -> np.ndarray:
    """A second voice centre at exactly ``similarity`` (cosine) from ``base``."""
    u = rng.normal(size=DIM)
    u -= (u @ base) * base
    u /= np.linalg.norm(u)
    return similarity * base + np.sqrt(1 - similarity**2) * u


def call(
    rng: np.random.Generator,
    centres: list[np.ndarray],
    order: list[int],
    turn_s: float = 4.0,
    noise: float = 0.04,
) -> tuple[np.ndarray, list[tuple[float, float]], np.ndarray]:
    """Windows for a call whose turns go to speakers in ``order``; returns truth labels too."""
    emb, spans, truth = [], [], []
    t = 0.0
    for spk in order:
        for start in np.arange(t, t + turn_s - 1.6 + 1e-9, 0.4):
            x = centres[spk] + noise * rng.normal(size=DIM)
            emb.append(x / np.linalg.norm(x))
            spans.append((float(start), float(start) + 1.6))
            truth.append(spk)
        t += turn_s + 0.5
    return np.array(emb), spans, np.array(truth)


def agree(labels: np.ndarray, truth: np.ndarray) -> float:
    """Share of windows labelled right under the best one-to-one mapping."""
    from scipy.optimize import linear_sum_assignment

    k = max(labels.max(), truth.max()) + 1
    m = np.zeros((k, k))
    for a, b in zip(labels, truth, strict=True):
        m[a, b] += 1
    rows, cols = linear_sum_assignment(-m)
    return m[rows, cols].sum() / len(truth)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_counts_speakers_of_a_conversation(k: int) -> None:
    rng = np.random.default_rng(k)
    centres = [voice(rng) for _ in range(k)]
    order = [i % k for i in range(8)] if k > 1 else [0] * 4
    emb, spans, truth = call(rng, centres, order)
    labels = C.cluster(emb, spans)
    assert labels.max() + 1 == k
    assert agree(labels, truth) == 1.0


def test_similar_voices_that_take_turns_are_two() -> None:
    rng = np.random.default_rng(7)
    a = voice(rng)
    b = voice_near(rng, a, 0.85)  # as close as the two real voices of pyannote_sample
    assert C.DISTINCT_SIMILARITY <= 0.85 < C.SAME_SIMILARITY
    emb, spans, truth = call(rng, [a, b], [0, 1, 0, 1, 0, 1], noise=0.02)
    labels = C.cluster(emb, spans)
    assert labels.max() + 1 == 2
    assert agree(labels, truth) == 1.0


def test_one_voice_that_drifts_once_stays_one() -> None:
    # The same voice before and after a change of microphone: two tight groups, one
    # change point, no return: a monologue, not a conversation.
    rng = np.random.default_rng(3)
    a = voice(rng)
    b = voice_near(rng, a, 0.85)
    emb, spans, _ = call(rng, [a, b], [0, 0, 0, 1, 1, 1], noise=0.02)
    assert C.cluster(emb, spans).max() == 0


def test_a_cluster_with_too_little_speech_is_not_a_speaker() -> None:
    rng = np.random.default_rng(5)
    a, b = voice(rng), voice(rng)
    emb, spans, _ = call(rng, [a, b], [0, 0, 1, 0, 0], turn_s=2.0)
    # speaker b has one 2 s turn: under MIN_SPEAKER_S
    assert C.cluster(emb, spans).max() == 0


def test_num_speakers_forces_the_count() -> None:
    rng = np.random.default_rng(11)
    a = voice(rng)
    emb, spans, _ = call(rng, [a], [0, 0, 0, 0])
    assert C.cluster(emb, spans).max() + 1 == 1
    assert C.cluster(emb, spans, num_speakers=2).max() + 1 == 2
    assert C.cluster(emb, spans, num_speakers=3).max() + 1 == 3


def test_min_and_max_speakers_bound_the_estimate() -> None:
    rng = np.random.default_rng(13)
    centres = [voice(rng) for _ in range(3)]
    emb, spans, _ = call(rng, centres, [0, 1, 2, 0, 1, 2, 0, 1, 2])
    assert C.cluster(emb, spans).max() + 1 == 3
    assert C.cluster(emb, spans, max_speakers=2).max() + 1 == 2
    one, one_spans, _ = call(rng, centres[:1], [0, 0, 0, 0])
    assert C.cluster(one, one_spans, min_speakers=2).max() + 1 == 2


def test_degenerate_inputs() -> None:
    assert C.cluster(np.zeros((0, DIM)), []).shape == (0,)
    rng = np.random.default_rng(0)
    emb, spans, _ = call(rng, [voice(rng)], [0], turn_s=1.6)
    assert emb.shape[0] == 1
    assert C.cluster(emb, spans).tolist() == [0]
    assert C.cluster(emb, spans, num_speakers=2).tolist() == [0]


def test_eigengap_counts_separated_groups() -> None:
    rng = np.random.default_rng(2)
    centres = [voice(rng) for _ in range(4)]
    emb, _, _ = call(rng, centres, [0, 1, 2, 3, 0, 1, 2, 3])
    estimate = C.estimate_count(C.cosine_affinity(emb), 2, 6)
    assert estimate.k == 4
    assert estimate.eigengap > C.MIN_EIGENGAP


def test_alternations_ignore_flicker() -> None:
    spans = [(i * 0.4, i * 0.4 + 1.6) for i in range(12)]
    labels = np.array([0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1])
    # the single window of speaker 1 in the middle is flicker (one run of 1.6 s counts
    # as long enough at min_run_s=1.0, not at 2.0)
    assert C.alternations(labels, spans, 0, 1, min_run_s=2.0) == 2
    assert C.alternations(labels, spans, 0, 1, min_run_s=1.0) == 4


def test_covered_seconds_is_the_union() -> None:
    assert C.covered_seconds([(0, 1.6), (0.4, 2.0), (5, 6)]) == pytest.approx(3.0)
    assert C.covered_seconds([]) == 0.0


def test_relabel_orders_by_first_appearance() -> None:
    assert C.relabel(np.array([2, 2, 0, 1, 0])).tolist() == [0, 0, 1, 2, 1]
