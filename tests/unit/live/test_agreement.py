"""Local agreement: a word is committed once two decodes in a row agree on it."""

from __future__ import annotations

from core.domain import Word
from core.live.agreement import HypothesisBuffer


def words(text: str, start: float = 0.0, step: float = 0.5) -> list[Word]:
    return [Word(t, start + i * step, start + i * step + 0.4) for i, t in enumerate(text.split())]


def test_commits_the_prefix_two_decodes_agree_on():
    buffer = HypothesisBuffer()
    buffer.insert(words("thank you for"))
    assert buffer.flush() == []  # one decode: nothing is certain yet
    assert [w.text for w in buffer.tentative] == ["thank", "you", "for"]
    buffer.insert(words("thank you for calling"))
    assert [w.text for w in buffer.flush()] == ["thank", "you", "for"]
    assert [w.text for w in buffer.tentative] == ["calling"]


def test_stops_at_the_first_disagreement():
    buffer = HypothesisBuffer()
    buffer.insert(words("my bill is wrong"))
    buffer.flush()
    buffer.insert(words("my build is wrong"))
    assert [w.text for w in buffer.flush()] == ["my"]
    assert [w.text for w in buffer.tentative] == ["build", "is", "wrong"]


def test_punctuation_and_case_do_not_break_agreement_and_the_newest_text_is_kept():
    buffer = HypothesisBuffer()
    buffer.insert(words("hello there"))
    buffer.flush()
    buffer.insert(words("Hello, there."))
    assert [w.text for w in buffer.flush()] == ["Hello,", "there."]


def test_committed_words_heard_again_are_not_committed_twice():
    buffer = HypothesisBuffer()
    buffer.insert(words("I want a refund"))
    buffer.flush()
    buffer.insert(words("I want a refund"))
    assert len(buffer.flush()) == 4
    # The next window still holds the tail of what was committed, a little earlier.
    again = words("a refund please now", start=1.0)
    buffer.insert(again)
    buffer.flush()
    buffer.insert(words("a refund please now", start=1.0))
    assert [w.text for w in buffer.flush()] == ["please", "now"]
    assert [w.text for w in buffer.committed] == ["I", "want", "a", "refund", "please", "now"]


def test_complete_commits_the_tentative_tail():
    buffer = HypothesisBuffer()
    buffer.insert(words("goodbye now"))
    buffer.flush()
    assert [w.text for w in buffer.complete()] == ["goodbye", "now"]
    assert buffer.tentative == []
    assert buffer.last_end == words("goodbye now")[-1].end
