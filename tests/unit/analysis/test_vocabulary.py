"""Custom vocabulary: checking, merging and the replacements (core/analysis/vocabulary.py)."""

from __future__ import annotations

import pytest

from core.analysis.vocabulary import (
    MAX_PROMPT_TOKENS,
    MAX_TERMS,
    Replacement,
    ResolvedVocabulary,
    Vocabulary,
    apply_replacements,
    clean_replacements,
    clean_terms,
    estimate_tokens,
    merge,
    replace_in_utterances,
    replace_text,
    resolve,
)
from core.domain import Utterance, Word
from core.errors import InvalidInputError


def words(text: str, step: float = 0.5) -> list[Word]:
    return [Word(t, i * step, i * step + 0.4, 0.9 - i / 100) for i, t in enumerate(text.split())]


def table(*pairs: tuple[str, str], terms: tuple[str, ...] = ()) -> ResolvedVocabulary:
    return ResolvedVocabulary(terms, tuple(Replacement(s, w) for s, w in pairs))


def test_a_multi_word_spoken_form_becomes_one_word_with_the_outer_times():
    got, changed = apply_replacements(
        words("I have the flexi max three hundred plan"),
        table(("flexi max three hundred", "FlexiMax 300")),
    )
    assert [w.text for w in got] == ["I", "have", "the", "FlexiMax 300", "plan"]
    merged = got[3]
    assert (merged.start, merged.end) == (1.5, 3.0 + 0.4)
    assert merged.probability == pytest.approx(0.9 - 6 / 100)  # the lowest of the four
    assert changed == 1


def test_matching_ignores_case_and_edge_punctuation_and_keeps_the_punctuation():
    got, changed = apply_replacements(
        words('Is "Zen Trix" plus, or Zentrix? calvora.'),
        table(("zen trix", "Zentrix"), ("calvora", "Kalvora")),
    )
    assert [w.text for w in got] == ["Is", '"Zentrix"', "plus,", "or", "Zentrix?", "Kalvora."]
    assert changed == 2  # "Zentrix?" was already right


def test_only_whole_words_match():
    got, changed = apply_replacements(words("flexible maxims"), table(("flex", "Flex")))
    assert [w.text for w in got] == ["flexible", "maxims"]
    assert changed == 0


def test_the_longest_spoken_form_wins_and_terms_fix_their_case():
    vocabulary = table(
        ("flexi max", "FlexiMax"),
        ("flexi max 300", "FlexiMax 300"),
        terms=("Kalvora", "Zentrix Plus"),
    )
    text = replace_text("flexi max 300 or flexi max from kalvora, zentrix plus.", vocabulary)
    assert text == "FlexiMax 300 or FlexiMax from Kalvora, Zentrix Plus."


def test_replacements_reach_the_utterance_text():
    u = Utterance(0, "S1", 0.0, 2.0, "on the kal vora plan", words("on the kal vora plan"))
    n = replace_in_utterances([u], table(("kal vora", "Kalvora")))
    assert n == 1
    assert u.text == "on the Kalvora plan"
    assert [w.text for w in u.words] == ["on", "the", "Kalvora", "plan"]


def test_merge_puts_the_most_specific_first_and_drops_duplicates():
    call = Vocabulary(("Kalvora",), (Replacement("zen trix", "ZenTrix"),), "call")
    team = Vocabulary(("kalvora", "Omnivault"), (Replacement("Zen  Trix", "Zentrix"),), "team:a")
    everyone = Vocabulary(("Omnivault", "Zentrix Plus"), (), "global:products")
    merged = merge([call, team, everyone])
    assert merged.terms == ("Kalvora", "Omnivault", "Zentrix Plus")
    assert merged.replacements == (Replacement("zen trix", "ZenTrix"),)  # the call's
    assert merged.sources == ("call", "team:a", "global:products")
    assert merged.record(3)["replaced"] == 3


def test_terms_over_the_prompt_budget_are_dropped_and_named():
    many = tuple(f"Productname{i}" for i in range(80))
    merged = merge([Vocabulary(many, (), "global:big")])
    assert merged.dropped_terms
    assert merged.terms + merged.dropped_terms == many
    assert estimate_tokens(", ".join(merged.terms)) <= MAX_PROMPT_TOKENS
    assert merged.record(0)["dropped_terms"] == list(merged.dropped_terms)


def test_resolve_checks_a_calls_own_and_puts_it_first():
    stored = [Vocabulary(("Kalvora",), (), "global:x")]
    got = resolve(["  Zentrix   Plus "], [{"spoken": "flexi max", "written": "FlexiMax"}], stored)
    assert got.terms == ("Zentrix Plus", "Kalvora")
    assert got.replacements == (Replacement("flexi max", "FlexiMax"),)
    assert not resolve([], [], [])


@pytest.mark.parametrize(
    "terms",
    [["x" * 61], [f"t{i}" for i in range(MAX_TERMS + 1)], [3], ["bad\x00term"]],
    ids=["too-long", "too-many", "not-text", "unprintable"],
)
def test_bad_terms_are_refused_with_a_hint(terms):
    with pytest.raises(InvalidInputError) as caught:
        clean_terms(terms)
    assert "at most" in caught.value.hint


@pytest.mark.parametrize(
    "items",
    [
        [{"spoken": "...", "written": "X"}],
        [{"spoken": "a", "written": ""}],
        [{"spoken": "a"}],
        ["a=>b"],
        [{"spoken": " ".join("w" * 7), "written": "X"}],
    ],
    ids=["no-word", "empty-written", "missing-key", "not-object", "too-many-words"],
)
def test_bad_replacements_are_refused(items):
    with pytest.raises(InvalidInputError):
        clean_replacements(items)


def test_clean_terms_drops_empty_and_duplicates_in_any_case():
    assert clean_terms(["Kalvora", " ", "KALVORA", "Zentrix  Plus"]) == ("Kalvora", "Zentrix Plus")


class StoredVocabularies:
    """A VocabularySource: the team's vocabulary for ``billing``, and a global one."""

    def __init__(self) -> None:
        self.teams: list[str | None] = []

    def for_call(self, team: str | None) -> list[Vocabulary]:
        self.teams.append(team)
        stored = [Vocabulary(tuple(f"Productname{i}" for i in range(80)), (), "global:big")]
        if team == "billing":
            stored.insert(
                0,
                Vocabulary(
                    ("Omnivault",), (Replacement("omni vault", "Omnivault"),), "team:billing"
                ),
            )
        return stored


async def test_the_pipeline_transcribes_with_the_merged_terms_and_records_what_it_did():
    from core.analysis.pipeline import AnalysisOptions, CallPipeline
    from core.domain import SpeakerTurn
    from tests.unit.fakes import (
        FakeCallAnalyzer,
        FakeDiarizer,
        FakeEmbedder,
        FakeSentimentAnalyzer,
        FakeTranscriber,
        silent_audio,
        words_of,
    )

    seen = []

    class Transcriber(FakeTranscriber):
        async def transcribe(self, samples, options, progress=None):
            seen.append(options)
            return await super().transcribe(samples, options, progress)

    source = StoredVocabularies()
    pipeline = CallPipeline(
        FakeDiarizer([SpeakerTurn("S1", 0, 8)]),
        Transcriber(words_of("my omni vault backup from kalvora failed", 0.0)),
        FakeSentimentAnalyzer(),
        FakeEmbedder(),
        FakeCallAnalyzer(),
        vocabularies=source,
    )
    options = AnalysisOptions(terms=("Kalvora",), team="billing")
    result = await pipeline.run(silent_audio(10), options)
    assert source.teams == ["billing"]
    terms = seen[0].terms
    assert terms[:3] == ("Kalvora", "Omnivault", "Productname0")
    assert estimate_tokens(", ".join(terms)) <= MAX_PROMPT_TOKENS
    assert result.utterances[0].text == "my Omnivault backup from Kalvora failed"
    entry = result.stages["asr"]["vocabulary"]
    assert entry["sources"] == ["call", "team:billing", "global:big"]
    assert entry["replaced"] == 2
    assert entry["dropped_terms"][-1] == "Productname79"
    assert any(w.startswith("vocabulary: ") and "Productname79" in w for w in result.warnings)
