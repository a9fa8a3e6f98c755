import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.analysis import conversation as metrics
from core.domain import Role, Sentiment, SentimentLabel, Speaker, Utterance
from tests.unit.fakes import words_of


def utt(i, speaker, start, text, step=0.4, score=None):
    words = words_of(text, start, step)
    u = Utterance(i, speaker, start, words[-1].end, text, words)
    if score is not None:
        label = (
            SentimentLabel.POSITIVE
            if score > 0
            else SentimentLabel.NEGATIVE
            if score < 0
            else SentimentLabel.NEUTRAL
        )
        u.sentiment = Sentiment(label, score)
    return u


def two_party():
    speakers = [Speaker("S1", Role.AGENT), Speaker("S2", Role.CUSTOMER)]
    utterances = [
        utt(0, "S1", 0.0, "thank you for calling how can I help", score=0.5),  # 0-3.16
        utt(1, "S2", 4.0, "my bill is wrong again", score=-0.6),  # 4-5.96
        utt(2, "S1", 7.0, "let me check that for you right now", score=0.2),  # 7-10.16
        # customer interrupts at 9.0 while the agent is still talking, and goes past 10.16
        utt(3, "S2", 9.0, "no no you people always say that", score=-0.8),  # 9-11.76
        utt(4, "S2", 20.0, "ok", score=0.0),  # short back-channel-like, no overlap
        utt(5, "S1", 21.0, "fixed it thanks", score=0.7),
    ]
    return speakers, utterances


def test_talk_time_silence_overlap_and_interruptions():
    speakers, utterances = two_party()
    m = metrics.compute(utterances, speakers, duration=30.0)
    assert m.interruptions == 1
    assert m.interruption_utterances == [3]  # the customer's "no no you people ..."
    assert speakers[1].interruptions == 1 and speakers[0].interruptions == 0
    assert m.overlap_s == pytest.approx(10.16 - 9.0, abs=0.01)
    assert 0 < m.talk_time_s < 30
    assert m.non_talk_time_s == pytest.approx(30.0 - m.talk_time_s, abs=1e-3)
    assert m.silence_ratio == pytest.approx(m.non_talk_time_s / 30.0, abs=1e-3)
    assert m.longest_silence_s == pytest.approx(20.0 - 11.76, abs=0.01)
    assert sum(s.talk_ratio for s in speakers) == pytest.approx(1.0, abs=1e-3)
    assert m.agent_talk_ratio == pytest.approx(speakers[0].talk_ratio, abs=1e-3)


def test_response_latency_is_customer_end_to_next_agent_start():
    speakers, utterances = two_party()
    m = metrics.compute(utterances, speakers, duration=30.0)
    # customer 1 ends 5.96 -> agent 7.0 (1.04); customer "ok" ends 20.36 -> agent 21.0 (0.64)
    assert m.mean_response_latency_s == pytest.approx((1.04 + 0.64) / 2, abs=0.01)


def test_back_channel_under_a_second_is_not_an_interruption():
    speakers = [Speaker("S1", Role.AGENT), Speaker("S2", Role.CUSTOMER)]
    utterances = [
        utt(0, "S1", 0.0, "one two three four five six"),
        utt(1, "S2", 1.0, "uh-huh", step=0.5),
    ]
    m = metrics.compute(utterances, speakers, duration=5.0)
    assert m.interruptions == 0


def test_a_start_within_timestamp_slop_of_the_end_is_not_an_interruption():
    speakers = [Speaker("S1", Role.AGENT), Speaker("S2", Role.CUSTOMER)]
    first = utt(0, "S1", 0.0, "one two three four five")  # ends at 1.96
    reply = utt(1, "S2", 1.85, "and then I said a lot more")
    assert metrics.compute([first, reply], speakers, duration=6.0).interruptions == 0
    reply = utt(1, "S2", 1.5, "and then I said a lot more")
    assert metrics.compute([first, reply], speakers, duration=6.0).interruptions == 1


def test_sentiment_by_quarter_and_trend():
    speakers, utterances = two_party()
    m = metrics.compute(utterances, speakers, duration=24.0)
    assert m.sentiment_by_quarter["customer"][0] == pytest.approx(-0.6)
    assert m.sentiment_by_quarter["customer"][1] == pytest.approx(-0.8)
    assert m.sentiment_by_quarter["customer"][2] is None
    assert m.sentiment_by_quarter["agent"][3] == pytest.approx(0.7)
    assert m.customer_sentiment_trend is not None and m.customer_sentiment_trend > 0


def test_words_per_minute():
    speakers = [Speaker("S1", Role.AGENT)]
    # 10 words over 10 * 0.5 s = 5 s of speech -> 120 wpm
    utterances = [utt(0, "S1", 0.0, " ".join(["word"] * 10), step=0.5)]
    metrics.compute(utterances, speakers, duration=10.0)
    assert speakers[0].words_per_minute == pytest.approx(10 / (4.95 / 60), rel=0.02)


def test_no_utterances():
    m = metrics.compute([], [], duration=12.0)
    assert m.talk_time_s == 0 and m.non_talk_time_s == 12.0 and m.silence_ratio == 1.0
    assert m.agent_talk_ratio is None and m.mean_response_latency_s is None


@given(
    st.lists(
        st.tuples(st.sampled_from(["S1", "S2", "S3"]), st.floats(0, 100), st.integers(1, 12)),
        max_size=25,
    ),
    st.floats(1, 200),
)
def test_invariants(raw, duration):
    speakers = [Speaker("S1", Role.AGENT), Speaker("S2", Role.CUSTOMER), Speaker("S3")]
    utterances = [utt(i, sp, start, " ".join(["w"] * n)) for i, (sp, start, n) in enumerate(raw)]
    m = metrics.compute(utterances, speakers, duration)
    span = max([duration] + [u.end for u in utterances])
    assert 0 <= m.talk_time_s <= span + 1e-6
    assert m.talk_time_s + m.non_talk_time_s == pytest.approx(span, abs=1e-2)
    assert 0 <= m.silence_ratio <= 1
    assert 0 <= m.overlap_s <= m.talk_time_s + 1e-6
    assert m.interruptions == sum(s.interruptions for s in speakers)
    for s in speakers:
        assert 0 <= s.talk_ratio <= 1
