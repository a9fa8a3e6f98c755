"""The measures of bench/accuracy.py on hand-made data whose answers are known (no models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyannote.core import Segment, Timeline

from bench.accuracy_report import Report
from bench.scoring import (
    VARIANTS,
    DerScores,
    Item,
    Run,
    annotation,
    interruption_error,
    jfk_text,
    match_turns,
    normalise,
    opens_with_greeting,
    role_score,
    role_time_score,
    sentiment_score,
    speaker_count,
    transcript,
    wer,
)
from samples.model import CallTruth, Interruption, TurnTruth


def turn(i: int, speaker: str, role: str, start: float, end: float, sentiment: str | None = None, text: str = "words") -> TurnTruth:  # fmt: skip
    return TurnTruth(i, speaker, role, text, start, end, sentiment)


def utt(start: float, end: float, role: str = "agent", label: str | None = None, text: str = "") -> dict[str, Any]:  # fmt: skip
    return {
        "start": start,
        "end": end,
        "role": role,
        "text": text,
        "sentiment": None if label is None else {"label": label, "score": 0.0},
    }


def truth(turns: list[TurnTruth], interruptions: int = 0) -> CallTruth:
    planted = tuple(Interruption(1, 0, "C", "A", 1.0, 0.5) for _ in range(interruptions))
    return CallTruth("t", 10.0, 16000, 1, "mono", "pcm_s16le", tuple(turns), planted, {})


# ---------------------------------------------------------------------------- WER


def test_wer_normalises_case_punctuation_numbers_and_contractions() -> None:
    ref = "And so, my fellow Americans: I'm asking. It was nineteen fifty two, Mr. Wilson."
    hyp = "and so my fellow americans I am asking it was 1952 mister wilson"
    assert normalise(ref) == normalise(hyp)
    assert wer([ref], [hyp]) == 0.0


def test_wer_counts_real_errors_and_pools_over_calls() -> None:
    # "not" deleted, "you" -> "me": 2 errors in 9 reference words
    assert wer(["Ask not what your country can do for you."], ["ask what your country can do for me"]) == pytest.approx(2 / 9)  # fmt: skip
    # pooled: all errors over all words (2/6), not the mean of per-call rates (0.5)
    assert wer(["a b c d", "e f"], ["a b c d", "x y"]) == pytest.approx(2 / 6)
    assert wer(["one two"], [""]) == 1.0


def test_transcript_orders_utterances_by_start() -> None:
    doc = {"utterances": [utt(5, 6, text="world"), utt(1, 2, text="hello")]}
    assert transcript(doc) == "hello world"


def test_jfk_text_is_read_from_the_shared_readme_table(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "| file | what | truth |\n|---|---|---|\n"
        '| `audio/other.wav` | x | text: "wrong one" |\n'
        '| `audio/jfk.flac` | 11 s | text: "Ask not, my friends." | MIT |\n'
    )
    assert jfk_text(readme) == "Ask not, my friends."
    readme.write_text("nothing here\n")
    with pytest.raises(ValueError, match=r"jfk\.flac"):
        jfk_text(readme)


# -------------------------------------------------------------------------- roles

TURNS = [
    turn(0, "A", "agent", 0.0, 4.0, "neutral"),
    turn(1, "C", "customer", 4.5, 8.0, "negative"),
    turn(2, "T", "unknown", 8.5, 10.0, "positive"),
]


def test_each_utterance_maps_to_the_turn_it_overlaps_most() -> None:
    utterances = [
        utt(0.2, 3.9),  # inside the agent's turn
        utt(3.5, 7.0),  # 0.5 s of turn 0, 2.5 s of turn 1
        utt(20.0, 21.0),  # after the call: overlaps nothing
        utt(8.6, 9.0),
    ]
    assert [t.index if t else None for t in match_turns(utterances, TURNS)] == [0, 1, None, 2]


def test_role_score_counts_agent_and_customer_turns_only() -> None:
    utterances = [
        utt(0.2, 3.9, "agent"),  # right
        utt(3.5, 7.0, "agent"),  # mostly the customer's turn: wrong
        utt(20.0, 21.0, "customer"),  # no truth turn: not scored
        utt(8.6, 9.0, "customer"),  # the third party (truth role unknown): not scored
    ]
    assert role_score(utterances, TURNS) == (1, 2)
    assert role_score([], TURNS) == (0, 0)


def test_role_time_score_exposes_one_utterance_spanning_the_whole_call() -> None:
    # One utterance labelled agent over everything is 100% right by utterance,
    # but covers none of the customer's 3.5 s.
    whole = [utt(0.0, 10.0, "agent")]
    assert role_score(whole, TURNS) == (1, 1)
    right, total = role_time_score(whole, TURNS)
    assert (right, total) == pytest.approx((4.0, 7.5))


def test_opens_with_greeting_looks_at_the_first_turn_in_time() -> None:
    greeting = turn(0, "A", "agent", 0.0, 2.0, text="Thank you for calling Contoso.")
    problem = turn(1, "C", "customer", 2.5, 4.0, text="Hello, my internet is down.")
    assert opens_with_greeting([problem, greeting])
    assert not opens_with_greeting([problem])
    late = turn(0, "A", "agent", 5.0, 6.0, text="Thank you for calling.")
    assert not opens_with_greeting([late, problem])


# ---------------------------------------------------------------------- sentiment


def test_sentiment_score_uses_the_matched_turns_label_and_counts_missing_as_wrong() -> None:
    utterances = [
        utt(0.2, 3.9, label="neutral"),  # right
        utt(4.6, 7.0, label="positive"),  # wrong (truth negative)
        utt(7.1, 7.9, label=None),  # no sentiment: wrong
        utt(8.6, 9.0, label="positive"),  # right (the third party's turn is labelled)
        utt(20.0, 21.0, label="neutral"),  # no truth turn: not scored
    ]
    assert sentiment_score(utterances, TURNS) == (2, 4)
    unlabelled = [turn(0, "A", "agent", 0.0, 4.0)]
    assert sentiment_score(utterances, unlabelled) == (0, 0)


# ------------------------------------------------------- speakers and interruptions


def test_speaker_count_and_interruption_error() -> None:
    doc = {"speakers": [{"id": "S1"}, {"id": "S2"}], "metrics": {"interruptions": 1}}
    assert speaker_count(doc) == 2
    assert interruption_error(doc, truth(TURNS, interruptions=3)) == 2
    assert interruption_error(doc, truth(TURNS, interruptions=0)) == 1
    assert interruption_error(doc, truth(TURNS, interruptions=1)) == 0


# ---------------------------------------------------------------------------- DER


def test_annotation_keeps_overlapping_turns_of_one_speaker_and_drops_empty_ones() -> None:
    ann = annotation([("A", 0.0, 2.0), ("A", 1.0, 3.0), ("B", 4.0, 4.0)], "x")
    assert ann.labels() == ["A"]
    assert ann.label_duration("A") == pytest.approx(3.0)
    assert len(list(ann.itertracks())) == 2


def test_der_on_hand_made_annotations_with_nist_collars() -> None:
    ref = annotation([("A", 0.0, 10.0), ("B", 10.0, 20.0)], "f1")
    # other label names (the mapping is optimal), the change found 0.2 s late
    late = annotation([("x", 0.0, 10.2), ("y", 10.2, 20.0)], "f1")
    # the last 2 s of speaker B missed
    short = annotation([("x", 0.0, 10.0), ("y", 10.0, 18.0)], "f2")
    scores = DerScores()
    c0, c25 = scores.add(ref, late, None)
    assert c0 == pytest.approx(0.2 / 20)
    # +-0.25 s around each boundary (pyannote collar=0.5): the 0.2 s shift is forgiven;
    # pyannote's own collar=0.25 (+-0.125 s) would not forgive it.
    assert c25 == 0.0
    ref2 = annotation([("A", 0.0, 10.0), ("B", 10.0, 20.0)], "f2")
    c0, c25 = scores.add(ref2, short, None)
    assert c0 == pytest.approx(2 / 20)
    # scored: 20 s minus the collars at 0 (half outside), 10 and 20 (half outside) = 19 s;
    # missed: 18..19.75
    assert c25 == pytest.approx(1.75 / 19)
    assert scores.pooled() == pytest.approx([2.2 / 40, 1.75 / 38])


def test_der_respects_the_scored_region() -> None:
    ref = annotation([("A", 0.0, 10.0), ("B", 10.0, 20.0)], "f")
    hyp = annotation([("x", 0.0, 10.0), ("y", 10.0, 15.0)], "f")  # B's last 5 s missed
    region = Timeline([Segment(0.0, 15.0)], uri="f")
    assert DerScores().add(ref, hyp, region)[0] == 0.0
    assert DerScores().add(ref, hyp, None)[0] == pytest.approx(5 / 20)


def test_an_empty_pool_reports_nan_not_zero() -> None:
    assert all(x != x for x in DerScores().pooled())


# ------------------------------------------------------------------------- tables


def test_tables_pool_per_column_and_mark_missing_cells() -> None:
    stereo, mono = VARIANTS[0], VARIANTS[1]
    ref = annotation([("A", 0.0, 4.0), ("C", 4.5, 8.0)], "u")

    def run(name: str, variant: str, said: str, found: int) -> Run:
        item = Item(name, variant, Path(f"{name}.wav"), 2, "alpha beta gamma delta",
                    ref, None, truth(TURNS[:2], interruptions=1))  # fmt: skip
        doc = {
            "utterances": [utt(0.0, 4.0, text=said)],
            "speakers": [{}, {}],
            "metrics": {"interruptions": found},
        }
        return Run(item, "tiny.en", doc, ref, 1.0)

    report = Report(
        [
            run("a", "stereo", "alpha beta gamma delta", 1),
            run("b", "stereo", "alpha beta", 3),
            run("a", "mono", "alpha beta gamma delta", 1),
        ],
        [stereo, mono],
        ["tiny.en"],
    )
    wer_lines = report.wer().splitlines()
    assert "| tiny.en | a | — | 0.0% | 0.0% |" in wer_lines
    assert "| tiny.en | b | — | 50.0% | — |" in wer_lines
    assert "| tiny.en | **all calls (pooled)** | — | 25.0% | 0.0% |" in wer_lines
    inter = report.interruptions().splitlines()
    assert "| tiny.en | b | 1 | 3 (±2) | — |" in inter
    assert "| tiny.en | **mean error** |  | 1.00 | 0.00 |" in inter
