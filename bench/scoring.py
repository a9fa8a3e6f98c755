"""The figures of bench/accuracy.py, as pure functions over result documents and truth."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jiwer
from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate

# The Whisper normaliser wants Whisper's British->American spelling map (``normalizer.json``
# of the hub tokenizer); no copy of it ships offline here, so the map is empty: "colour" vs
# "color" counts as an error. Everything else (numbers, contractions, titles) is normalised.
from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

from samples.model import CallTruth, TurnTruth

ROOT = Path(__file__).resolve().parents[1]
NORMALISER = EnglishTextNormalizer({})
COLLARS = (0.0, 0.25)  # NIST convention: +-collar around each reference boundary
AS_RECORDED = "as recorded"
GREETINGS = (
    "thank you for calling",
    "thanks for calling",
    "welcome to",
    "good morning",
    "good afternoon",
    "good evening",
    "hello",
    "hi,",
)


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    suffix: str
    options: dict[str, Any]


VARIANTS = (
    Variant("stereo", "clean stereo 16 kHz", ".wav", {"layout": "stereo"}),
    Variant("mono", "clean mono 16 kHz", ".wav", {"layout": "mono"}),
    Variant("mulaw", "mu-law 8 kHz stereo", ".wav", {"layout": "stereo", "mulaw": True}),
    Variant(
        "noisy", "mono, white noise SNR 12 dB", ".wav", {"layout": "mono", "noise_snr_db": 12.0}
    ),
    Variant("mp3", "mp3 stereo 16 kHz", ".mp3", {"layout": "stereo"}),
)
RENDER_DEFAULTS: dict[str, Any] = {
    "layout": "mono",
    "sample_rate": 16000,
    "mulaw": False,
    "noise_snr_db": None,
    "noise_kind": "white",
    "seed": 0,
}


# ------------------------------------------------------------------ pure measures
def normalise(text: str) -> str:
    return NORMALISER(text)


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER (all errors / all reference words) after the Whisper English normaliser."""
    return float(jiwer.wer([normalise(r) for r in references], [normalise(h) for h in hypotheses]))


def transcript(document: dict[str, Any]) -> str:
    return " ".join(u["text"] for u in sorted(document["utterances"], key=lambda u: u["start"]))


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def match_turns(
    utterances: Sequence[dict[str, Any]], turns: Sequence[TurnTruth]
) -> list[TurnTruth | None]:
    """The truth turn each utterance overlaps most in time (None: it overlaps none)."""
    matched: list[TurnTruth | None] = []
    for u in utterances:
        span = (u["start"], u["end"])
        best = max(turns, key=lambda t: overlap(span, (t.start, t.end)), default=None)
        matched.append(best if best and overlap(span, (best.start, best.end)) > 0 else None)
    return matched


def role_score(utterances: Sequence[dict[str, Any]], turns: Sequence[TurnTruth]) -> tuple[int, int]:
    """(right, scored) over utterances whose matched truth role is agent or customer."""
    pairs = [
        (u["role"], t.role)
        for u, t in zip(utterances, match_turns(utterances, turns), strict=True)
        if t is not None and t.role in ("agent", "customer")
    ]
    return sum(found == true for found, true in pairs), len(pairs)


def role_time_score(
    utterances: Sequence[dict[str, Any]], turns: Sequence[TurnTruth]
) -> tuple[float, float]:
    """(seconds, total): agent/customer truth speech covered by utterances of its role."""
    scored = [t for t in turns if t.role in ("agent", "customer")]
    right = sum(
        overlap((u["start"], u["end"]), (t.start, t.end))
        for t in scored
        for u in utterances
        if u["role"] == t.role
    )
    return right, sum(t.duration for t in scored)


def sentiment_score(
    utterances: Sequence[dict[str, Any]], turns: Sequence[TurnTruth]
) -> tuple[int, int]:
    """(right, scored) over utterances whose matched truth turn carries a sentiment label."""
    pairs = [
        ((u.get("sentiment") or {}).get("label"), t.sentiment)
        for u, t in zip(utterances, match_turns(utterances, turns), strict=True)
        if t is not None and t.sentiment is not None
    ]
    return sum(found == true for found, true in pairs), len(pairs)


def speaker_count(document: dict[str, Any]) -> int:
    return len(document["speakers"])


def interruption_error(document: dict[str, Any], truth: CallTruth) -> int:
    return abs(int(document["metrics"]["interruptions"]) - len(truth.interruptions))


def opens_with_greeting(turns: Sequence[TurnTruth]) -> bool:
    first = min(turns, key=lambda t: t.start, default=None)
    return first is not None and first.role == "agent" and first.text.lower().startswith(GREETINGS)


def annotation(turns: Iterable[tuple[str, float, float]], uri: str) -> Annotation:
    ann = Annotation(uri=uri)
    for speaker, start, end in turns:
        if end > start:
            ann[Segment(start, end), len(ann)] = speaker
    return ann


class DerScores:
    """DER per file and pooled over files, at each NIST collar (pyannote's is the full width)."""

    def __init__(self, collars: Sequence[float] = COLLARS) -> None:
        self.metrics = {c: DiarizationErrorRate(collar=2 * c) for c in collars}

    def add(
        self, reference: Annotation, hypothesis: Annotation, region: Timeline | None
    ) -> list[float]:
        with warnings.catch_warnings():  # "uem approximated" when region is None
            warnings.simplefilter("ignore")
            return [float(m(reference, hypothesis, uem=region)) for m in self.metrics.values()]

    def pooled(self) -> list[float]:
        return [float(abs(m)) if m.results_ else float("nan") for m in self.metrics.values()]


def jfk_text(readme: Path) -> str:
    """jfk.flac's transcript, from the truth column of tests/data/README.md."""
    found = re.search(r"audio/jfk\.flac`.*?text:\s*\"([^\"]+)\"", readme.read_text())
    if not found:
        raise ValueError(f"no jfk.flac transcript in {readme}")
    return found.group(1)


# -------------------------------------------------------------------- the corpus
@dataclass
class Item:
    """One recording to analyse and its truth (``reference``: who spoke when)."""

    name: str
    variant: str
    path: Path
    speakers: int
    text: str | None = None
    reference: Annotation | None = None
    region: Timeline | None = None
    truth: CallTruth | None = None


@dataclass
class Run:
    item: Item
    model: str
    document: dict[str, Any]
    hypothesis: Annotation
    seconds: float
