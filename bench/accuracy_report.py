"""The markdown tables of bench/accuracy.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# The Whisper normaliser wants Whisper's British->American spelling map (``normalizer.json``
# of the hub tokenizer); no copy of it ships offline here, so the map is empty: "colour" vs
# "color" counts as an error. Everything else (numbers, contractions, titles) is normalised.
from bench.scoring import (
    AS_RECORDED,
    DerScores,
    Item,
    Run,
    Variant,
    interruption_error,
    opens_with_greeting,
    role_score,
    role_time_score,
    sentiment_score,
    speaker_count,
    transcript,
    wer,
)


def pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:.1f}%"


def ratio(right: int, n: int) -> str:
    return f"{pct(right / n) if n else '—'} ({n})"


def table(title: str, head: list[str], rows: list[list[str]], note: str = "") -> str:
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines + ([f"\n{note}"] if note else [])) + "\n"


def totals(scores: Iterable[tuple[int, int]]) -> tuple[int, int]:
    pairs = list(scores)
    return sum(a for a, _ in pairs), sum(n for _, n in pairs)


Cell = Callable[[list[Run]], str]


@dataclass
class Report:
    runs: list[Run]
    variants: list[Variant]
    models: list[str]
    text_scores: dict[str, tuple[int, int]] = field(default_factory=dict)

    def cells(self, model: str, names: list[str], cell: Cell, real: bool = True) -> list[str]:
        """One cell per column (as recorded, then each variant): ``cell`` of those runs."""
        columns = ([AS_RECORDED] if real else []) + [v.key for v in self.variants]
        out = []
        for column in columns:
            runs = [
                r
                for r in self.runs
                if r.model == model and r.item.name in names and r.item.variant == column
            ]
            out.append(cell(runs) if runs else "—")
        return out

    def head(self, *first: str, real: bool = True) -> list[str]:
        return [*first, *([AS_RECORDED] if real else []), *(v.label for v in self.variants)]

    def names(self, synthetic: bool) -> list[str]:
        items = (r.item for r in self.runs if (r.item.truth is not None) == synthetic)
        return list(dict.fromkeys(i.name for i in items))

    def item(self, name: str) -> Item:
        return next(r.item for r in self.runs if r.item.name == name)

    def wer(self) -> str:
        def cell(runs: list[Run]) -> str:
            refs = [r.item.text or "" for r in runs]
            return pct(wer(refs, [transcript(r.document) for r in runs]))

        calls = self.names(synthetic=True)
        texts = [n for n in self.names(synthetic=False) if self.item(n).text]
        rows = []
        for m in self.models:
            rows += [[m, n, *self.cells(m, [n], cell)] for n in texts + calls]
            rows.append([m, "**all calls (pooled)**", *self.cells(m, calls, cell)])
        note = (
            "Reference: the script's text in turn order (jfk.flac: the transcript in "
            "tests/data/README.md); hypothesis: the result's utterances by start time. "
            "Both through Whisper's EnglishTextNormalizer with an empty spelling map."
        )
        return table("WER", self.head("model", "audio"), rows, note)

    def der(self) -> str:
        def cell(runs: list[Run]) -> str:
            scores = DerScores()
            for r in runs:
                if r.item.reference is not None:
                    scores.add(r.item.reference, r.hypothesis, r.item.region)
            return " / ".join(pct(x) for x in scores.pooled())

        calls = self.names(synthetic=True)
        clips = [n for n in self.names(synthetic=False) if self.item(n).reference is not None]
        blocks = {}
        for m in self.models:
            rows = [[n, *self.cells(m, [n], cell)] for n in calls]
            rows.append(["**all calls (pooled)**", *self.cells(m, calls, cell)])
            rows += [[n, *self.cells(m, [n], cell)] for n in clips]
            if clips:
                rows.append(["**real clips (pooled)**", *self.cells(m, clips, cell)])
            blocks[m] = rows
        groups = list(blocks.items())
        if len({str(rows) for rows in blocks.values()}) == 1:  # diarization ignores the ASR model
            groups = [(" = ".join(self.models), groups[0][1])]
        rows = [[m, *row] for m, block in groups for row in block]
        note = (
            "Cells: collar 0 / collar ±0.25 s around each reference boundary (pyannote.metrics "
            "`collar=0.5`: its collar is the full width). Hypothesis: the pipeline's diarization "
            "turns. Synthetic calls are scored over the whole file, the AMI clips over their "
            "UEM, pyannote_sample.wav without one, as bench/der.py does."
        )
        return table("DER (collar 0 / ±0.25 s)", self.head("model", "audio"), rows, note)

    def speakers(self) -> str:
        def cell(runs: list[Run]) -> str:
            return " ".join(
                f"{speaker_count(r.document)} {'✓' if speaker_count(r.document) == r.item.speakers else '✗'}"
                for r in runs
            )

        def hits(runs: list[Run]) -> str:
            good = sum(speaker_count(r.document) == r.item.speakers for r in runs)
            return f"{good}/{len(runs)}"

        calls, real = self.names(synthetic=True), self.names(synthetic=False)
        parties: dict[int, list[str]] = {}
        for n in calls:
            parties.setdefault(self.item(n).speakers, []).append(n)
        rows = []
        for m in self.models:
            for n in calls + real:
                rows.append([m, f"{n} ({self.item(n).speakers})", *self.cells(m, [n], cell)])
            for k, group in sorted(parties.items()):
                rows.append([m, f"**{k}-party calls: found = true**", *self.cells(m, group, hits)])
            if real:
                rows.append([m, "**real recordings: found = true**", *self.cells(m, real, hits)])
        note = (
            "Audio (true count); cells: speakers in the result document (diarized speakers "
            "who said words), ✓ when equal to the true count."
        )
        return table("Speaker count", self.head("model", "audio (true)"), rows, note)

    def roles(self) -> str:
        def score(r: Run) -> tuple[int, int]:
            assert r.item.truth is not None
            return role_score(r.document["utterances"], r.item.truth.turns)

        def cell(runs: list[Run]) -> str:
            seconds = [
                role_time_score(r.document["utterances"], r.item.truth.turns)
                for r in runs
                if r.item.truth
            ]
            timed = sum(a for a, _ in seconds) / sum(n for _, n in seconds)
            return f"{ratio(*totals(score(r) for r in runs))} · {pct(timed)}"

        def perfect(runs: list[Run]) -> str:
            scores = [score(r) for r in runs]
            return f"{sum(a == n for a, n in scores)}/{len(scores)} at 100%"

        calls = self.names(synthetic=True)
        greeting = [n for n in calls if opens_with_greeting(self.item(n).truth.turns)]  # type: ignore[union-attr]
        rows = []
        for m in self.models:
            for n in calls:
                opens = "yes" if n in greeting else "no"
                rows.append([m, n, opens, *self.cells(m, [n], cell, real=False)])
            rows.append([m, "**all calls (pooled)**", "", *self.cells(m, calls, cell, real=False)])
            if greeting:
                rows.append(
                    [m, "**greeting calls**", "yes", *self.cells(m, greeting, perfect, real=False)]
                )
        note = (
            "Utterance level: each utterance of the result is matched to the truth turn it "
            "overlaps most; only turns whose truth role is agent or customer count (n in "
            "brackets). After the dot, by time: the share of agent/customer truth speech "
            "covered by result utterances of the same role (one long utterance cannot hide "
            "a wrong speaker split there). Greeting calls: calls (x variants) at 100% by "
            "utterance."
        )
        head = self.head("model", "call", "opens with agent greeting", real=False)
        return table("Role accuracy", head, rows, note)

    def sentiment(self) -> str:
        def cell(runs: list[Run]) -> str:
            scores = (
                sentiment_score(r.document["utterances"], r.item.truth.turns)
                for r in runs
                if r.item.truth is not None
            )
            return ratio(*totals(scores))

        rows = [
            [source, "—", ratio(a, n), *("—" for _ in self.variants)]
            for source, (a, n) in self.text_scores.items()
        ]
        for m in self.models:
            calls = self.names(synthetic=True)
            rows.append(
                ["script turns, via the pipeline", m, "—", *self.cells(m, calls, cell, real=False)]
            )
        note = (
            "Truth text: the sentiment stage on the labelled sentences themselves. Via the "
            "pipeline: each recognised utterance against the label of the truth turn it "
            "overlaps most (n in brackets)."
        )
        head = self.head("utterances", "ASR model", "truth text", real=False)
        return table("Utterance sentiment accuracy", head, rows, note)

    def interruptions(self) -> str:
        def cell(runs: list[Run]) -> str:
            return " ".join(
                f"{r.document['metrics']['interruptions']} "
                f"(±{interruption_error(r.document, r.item.truth)})"
                for r in runs
                if r.item.truth is not None
            )

        def mean(runs: list[Run]) -> str:
            errors = [interruption_error(r.document, r.item.truth) for r in runs if r.item.truth]
            return f"{sum(errors) / len(errors):.2f}"

        calls = self.names(synthetic=True)
        rows = []
        for m in self.models:
            for n in calls:
                planted = str(len(self.item(n).truth.interruptions))  # type: ignore[union-attr]
                rows.append([m, n, planted, *self.cells(m, [n], cell, real=False)])
            rows.append([m, "**mean error**", "", *self.cells(m, calls, mean, real=False)])
        note = "Cells: interruptions found in the result's metrics (|found − planted|)."
        head = self.head("model", "call", "planted", real=False)
        return table("Interruptions", head, rows, note)


# -------------------------------------------------------------------------- main
