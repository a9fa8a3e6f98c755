"""Custom vocabulary: WER and term recall on calls full of made-up product names, with and
without the vocabulary.

    .venv/bin/python -m bench vocabulary [--models base,tiny.en] [--beam 5]

Three calls of about 36 s (two espeak-ng voices, mono 16 kHz) name products, plans and companies that
no Whisper has seen (``Zentrix Plus``, ``Kalvora``, ``FlexiMax 300``...). Each is
transcribed by the ASR engine itself (services/asr/local.py) with no vocabulary, with the
terms as faster-whisper ``hotwords``, as ``initial_prompt``, and as both; each transcript
is scored as it is and after the replacement table (core/analysis/vocabulary.py).

The replacement table below was written before any of these calls was transcribed, from
how the names might be heard (it is not fitted to the misses measured here). WER is corpus
WER after the Whisper English normaliser (bench/scoring.py); term recall: of the terms'
occurrences in the scripts, how many the transcript has (normalised, whole words).
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Sequence

import numpy as np

from bench.scoring import normalise, wer
from core.analysis.vocabulary import (
    Replacement,
    ResolvedVocabulary,
    apply_replacements,
)
from core.domain import TranscriptionOptions, Word

TERMS = (
    "Zentrix Plus",
    "Kalvora",
    "FlexiMax 300",
    "Omnivault",
    "Brelo Connect",
    "Quintara",
    "Velto",
)
# Written a priori (see the docstring): plausible hearings of the names.
REPLACEMENTS = (
    Replacement("zen tricks", "Zentrix"),
    Replacement("zen trix", "Zentrix"),
    Replacement("sentrix", "Zentrix"),
    Replacement("calvora", "Kalvora"),
    Replacement("cal vora", "Kalvora"),
    Replacement("kal vora", "Kalvora"),
    Replacement("flexi max", "FlexiMax"),
    Replacement("flexy max", "FlexiMax"),
    Replacement("flex e max", "FlexiMax"),
    Replacement("flexmax", "FlexiMax"),
    Replacement("omni vault", "Omnivault"),
    Replacement("omnivolt", "Omnivault"),
    Replacement("brello", "Brelo"),
    Replacement("bré lo", "Brelo"),
    Replacement("quintera", "Quintara"),
    Replacement("quin tara", "Quintara"),
    Replacement("velt o", "Velto"),
    Replacement("veltow", "Velto"),
)

# (voice, text): A the agent, C the customer (samples/tts.py). Two scripts make one call
# (about 36 s: two of Whisper's 30 s windows, so that ``initial_prompt``, which reaches only
# the first window, and ``hotwords``, which reach every window, can differ).
SCRIPTS: list[list[tuple[str, str]]] = [
    [
        ("A", "Thank you for calling Kalvora, my name is Dana. How can I help you today?"),
        ("C", "Hi, I am on the Zentrix Plus plan and my bill went up this month."),
        ("A", "I see. The Zentrix Plus plan went up by five dollars in March."),
        ("C", "Can I move to the FlexiMax 300 plan instead?"),
    ],
    [
        ("A", "Welcome to Kalvora support. Which product are you calling about?"),
        ("C", "My Omnivault backup stopped syncing after the update yesterday."),
        ("A", "Omnivault needs the new Brelo Connect app to sync. Do you have it installed?"),
        ("C", "No, I only have the old Brelo app on my phone."),
    ],
    [
        ("A", "Good morning, this is Kalvora billing. How may I help?"),
        ("C", "I was charged twice for FlexiMax 300 and once for Zentrix Plus."),
        ("A", "I will refund the second FlexiMax 300 charge today."),
        ("C", "Thanks. Also, does Quintara still offer the family discount?"),
    ],
    [
        ("A", "Hello, you have reached Quintara. What can I do for you?"),
        ("C", "I want to cancel Velto and keep my Omnivault storage."),
        ("A", "Velto can be cancelled now, and Omnivault stays active on your account."),
        ("C", "Great, and please send the confirmation to my email."),
    ],
    [
        ("A", "Thanks for calling. Are you a Zentrix Plus or a FlexiMax 300 customer?"),
        ("C", "FlexiMax 300, but my router from Kalvora keeps dropping the connection."),
        ("A", "Let me restart it through Brelo Connect. Please wait a moment."),
        ("C", "Okay, the light is green again."),
    ],
    [
        ("A", "Kalvora sales, this is Sam speaking."),
        ("C", "I saw an ad for Velto and Quintara bundles. What is the price?"),
        ("A", "Velto with Quintara is twenty dollars a month with Zentrix Plus."),
        ("C", "Then I will take the Velto bundle with Omnivault."),
    ],
]

CALLS = [SCRIPTS[i] + SCRIPTS[i + 1] for i in range(0, len(SCRIPTS), 2)]
MODES = ("none", "hotwords", "prompt", "both")
GAP_S = 0.5


def render(call: Sequence[tuple[str, str]], rate: int = 16000) -> np.ndarray:
    from samples.tts import VOICES, speak

    gap = np.zeros(int(GAP_S * rate), dtype=np.float32)
    pieces: list[np.ndarray] = [gap]
    for voice, text in call:
        pieces += [speak(text, VOICES[voice], rate), gap]
    return np.concatenate(pieces).astype(np.float32)


def reference(call: Sequence[tuple[str, str]]) -> str:
    return " ".join(text for _, text in call)


def term_hits(ref: str, hyp: str) -> tuple[int, int]:
    """How many of the terms' occurrences in ``ref`` are in ``hyp`` (whole words)."""
    found = total = 0
    r, h = normalise(ref), normalise(hyp)
    for term in TERMS:
        pattern = rf"\b{re.escape(normalise(term))}\b"
        n = len(re.findall(pattern, r))
        total += n
        found += min(n, len(re.findall(pattern, h)))
    return found, total


def replaced(words: list[Word], terms: Sequence[str]) -> str:
    vocabulary = ResolvedVocabulary(tuple(terms), REPLACEMENTS)
    out, _ = apply_replacements(words, vocabulary)
    return " ".join(w.text for w in out)


async def transcribe_all(
    engine: object, audios: list[np.ndarray], terms: Sequence[str]
) -> list[list[Word]]:
    options = TranscriptionOptions(language="en", terms=tuple(terms))
    return [list((await engine.transcribe(a, options)).words) for a in audios]  # type: ignore[attr-defined]


def main() -> None:
    from bootstrap.container import _transcriber
    from bootstrap.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="base")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--show", action="store_true", help="print each transcript")
    parser.add_argument(
        "--short", action="store_true", help="each script a call of its own (about 18 s)"
    )
    args = parser.parse_args()
    calls = SCRIPTS if args.short else CALLS
    audios = [render(c) for c in calls]
    refs = [reference(c) for c in calls]
    seconds = sum(len(a) for a in audios) / 16000
    n_terms = sum(term_hits(r, r)[1] for r in refs)
    print(
        f"\n{len(calls)} calls, {seconds:.0f} s of speech, {len(TERMS)} terms said "
        f"{n_terms} times; beam {args.beam}\n"
    )
    print("| model | terms given as | replacements | WER | term recall |")
    print("|---|---|---|---|---|")
    for model in [m for m in args.models.split(",") if m]:
        settings = Settings(_env_file=None, asr_beam_size=args.beam)  # type: ignore[call-arg]
        engine = _transcriber(settings, model)
        asyncio.run(engine.load())
        for mode in MODES:
            engine.vocabulary_mode = "hotwords" if mode == "none" else mode
            results = asyncio.run(transcribe_all(engine, audios, () if mode == "none" else TERMS))
            for with_table in (False, True):
                hyps = [
                    replaced(ws, TERMS) if with_table else " ".join(w.text for w in ws)
                    for ws in results
                ]
                hits = [term_hits(r, h) for r, h in zip(refs, hyps, strict=True)]
                found = sum(f for f, _ in hits)
                total = sum(t for _, t in hits)
                label = "(no vocabulary)" if mode == "none" else mode
                print(
                    f"| {model} | {label} | {'yes' if with_table else 'no'} | "
                    f"{wer(refs, hyps):.3f} | {found}/{total} |"
                )
                if args.show:
                    for h in hyps:
                        print(f"|   | | | | {h} |")


if __name__ == "__main__":
    main()
