"""Property tests for word-to-speaker assignment, utterance grouping and call metrics."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.analysis import conversation as metrics
from core.analysis.alignment import assign_speakers, group_utterances
from core.domain import Role, Sentiment, SentimentLabel, Speaker, SpeakerTurn, Utterance, Word

EPS = 1e-3
SPEAKER_IDS = ["S1", "S2", "S3", "S4"]
PROPS = settings(max_examples=200, deadline=None)


@st.composite
def calls(draw):
    """A call: duration, 1-4 speakers, turns and words inside the duration (maybe none)."""
    duration = draw(st.floats(0.5, 300.0, allow_nan=False, allow_infinity=False))
    n_speakers = draw(st.integers(1, 4))
    ids = SPEAKER_IDS[:n_speakers]
    time = st.floats(0.0, duration, allow_nan=False, allow_infinity=False)

    def span():
        a, b = draw(time), draw(time)
        return (a, b) if a <= b else (b, a)

    turns = []
    for _ in range(draw(st.integers(0, 12))):
        start, end = span()
        turns.append(SpeakerTurn(draw(st.sampled_from(ids)), start, end))
    words = []
    for i in range(draw(st.integers(0, 60))):
        start = draw(time)
        length = draw(st.floats(0.0, 2.0, allow_nan=False))
        text = f"w{i}" + draw(st.sampled_from(["", "", ".", "?", "!"]))
        words.append(Word(text, start, min(duration, start + length)))
    return duration, ids, turns, words


def _key(w: Word):
    return (w.text, w.start, w.end)


@PROPS
@given(calls())
def test_every_word_lands_in_exactly_one_utterance(call):
    duration, _ids, turns, words = call
    assigned = assign_speakers(words, turns)
    assert [a.word for a in assigned] == words  # one per word, input order kept
    turn_speakers = {t.speaker for t in turns}
    for a in assigned:
        assert a.speaker in (turn_speakers or {"S1"})

    utterances = group_utterances(assigned)
    assert Counter(_key(w) for u in utterances for w in u.words) == Counter(map(_key, words))
    assert [u.index for u in utterances] == list(range(len(utterances)))
    starts = [u.start for u in utterances]
    assert starts == sorted(starts)
    speaker_of = {id(a.word): a.speaker for a in assigned}
    for u in utterances:
        assert u.words, "no empty utterance"
        assert {speaker_of[id(w)] for w in u.words} == {u.speaker}
        assert [(w.start, w.end) for w in u.words] == sorted((w.start, w.end) for w in u.words)
        assert u.start == u.words[0].start
        assert u.end == max(w.end for w in u.words)
        assert 0.0 <= u.start <= u.end <= duration
        assert u.text == " ".join(w.text for w in u.words)


@PROPS
@given(calls(), st.data())
def test_metrics_invariants(call, data):
    duration, ids, turns, words = call
    utterances = group_utterances(assign_speakers(words, turns, default_speaker=ids[0]))
    roles = [Role.AGENT, Role.CUSTOMER, Role.UNKNOWN]
    speakers = [Speaker(s, data.draw(st.sampled_from(roles))) for s in ids]
    for u in utterances:
        score = data.draw(st.none() | st.floats(-1.0, 1.0, allow_nan=False))
        if score is not None:
            u.sentiment = Sentiment(SentimentLabel.NEUTRAL, score)

    m = metrics.compute(utterances, speakers, duration)

    assert 0.0 <= m.talk_time_s <= duration + EPS
    assert 0.0 <= m.non_talk_time_s <= duration + EPS
    assert math.isclose(m.talk_time_s + m.non_talk_time_s, duration, abs_tol=2 * EPS)
    assert 0.0 <= m.silence_ratio <= 1.0
    assert 0.0 <= m.longest_silence_s <= duration + EPS
    assert 0.0 <= m.overlap_s <= m.talk_time_s + EPS
    assert m.interruptions >= 0
    assert m.interruptions == sum(s.interruptions for s in speakers)
    assert m.interruptions == len(m.interruption_utterances)
    assert set(m.interruption_utterances) <= {u.index for u in utterances}
    assert m.interruptions <= len(utterances)
    if not words:
        assert m.talk_time_s == 0.0 and m.silence_ratio == 1.0 and m.interruptions == 0

    talk_sum = 0.0
    for s in speakers:
        assert 0.0 <= s.talk_time_s <= duration + EPS
        assert 0.0 <= s.talk_ratio <= 1.0
        assert s.interruptions >= 0
        assert s.words_per_minute >= 0.0 and math.isfinite(s.words_per_minute)
        if s.sentiment_mean is not None:
            assert -1.0 <= s.sentiment_mean <= 1.0
        talk_sum += s.talk_time_s
    # A speaker's talk time is at most the union's plus what overlaps with others.
    assert talk_sum <= m.talk_time_s + m.overlap_s * len(speakers) + len(speakers) * EPS
    ratio_sum = sum(s.talk_ratio for s in speakers)
    if talk_sum > 0:
        assert math.isclose(ratio_sum, 1.0, abs_tol=len(speakers) * 1e-4)
    else:  # nobody talked, or under half a millisecond in all (rounded to 0 s)
        assert ratio_sum == 0.0 or math.isclose(ratio_sum, 1.0, abs_tol=len(speakers) * 1e-4)

    if m.agent_talk_ratio is not None:
        assert 0.0 <= m.agent_talk_ratio <= 1.0 + 1e-4
        assert any(s.role == Role.AGENT for s in speakers)
    if m.mean_response_latency_s is not None:
        assert 0.0 <= m.mean_response_latency_s <= duration + EPS

    assert set(m.sentiment_by_quarter) == {Role.AGENT.value, Role.CUSTOMER.value}
    for quarters in m.sentiment_by_quarter.values():
        assert len(quarters) == 4
        for v in quarters:
            assert v is None or -1.0 <= v <= 1.0
    if m.customer_sentiment_trend is not None:
        assert math.isfinite(m.customer_sentiment_trend)


@pytest.mark.parametrize("end", [0.7656, 0.0016])
def test_a_sole_speakers_talk_ratio_is_exactly_one(end):
    words = [Word("hi", 0.0, end)]
    speakers = [Speaker("S1", Role.AGENT)]
    metrics.compute([Utterance(0, "S1", 0.0, end, "hi", words)], speakers, 10.0)
    assert speakers[0].talk_ratio == 1.0


@PROPS
@given(calls())
def test_metrics_do_not_depend_on_utterance_order(call):
    duration, ids, turns, words = call
    utterances = group_utterances(assign_speakers(words, turns, default_speaker=ids[0]))
    a = metrics.compute(utterances, [Speaker(s) for s in ids], duration)
    b = metrics.compute(list(reversed(utterances)), [Speaker(s) for s in ids], duration)
    assert a == b


@PROPS
@given(
    st.lists(
        st.tuples(st.floats(0, 100, allow_nan=False), st.floats(0, 10, allow_nan=False)),
        max_size=30,
    ),
    st.floats(0, 2, allow_nan=False),
)
def test_union_is_sorted_disjoint_and_covers_its_inputs(raw, fill):
    ivs = [metrics.Interval(s, s + d) for s, d in raw]
    merged = metrics.union(ivs, fill)
    for a, b in itertools.pairwise(merged):
        assert a.end + fill < b.start
    for iv in ivs:
        if iv.end > iv.start:
            assert any(m.start <= iv.start and iv.end <= m.end for m in merged)
    assert metrics.total(merged) <= sum(iv.duration for iv in ivs) + fill * len(ivs) + 1e-9
