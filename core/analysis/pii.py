"""PII redaction: find personal data in a transcript's words, replace it with typed tags.

Works on the recognised words (a call is speech: numbers come as "4572 1234 …" or as "four
five seven two …", e-mails as "john dot smith at gmail dot com"), so every finding is a span
of words with its times, which is also what silences the audio (:func:`silence`).

What is found, and how:

- ``CARD_NUMBER``: a run of 13 to 19 digits (written or spoken, "double five" included), or
  12 and more after "card"; ``PHONE_NUMBER``: 10 or 11 digits, or 7 to 11 after "phone",
  "number", "call", "reach", "mobile"; ``ACCOUNT_NUMBER``: 6 to 12 digits otherwise, or 4
  and more after "account", "policy", "member", "reference", "order", "customer";
  ``SSN``: 9 digits after "social security"; ``PIN``: 3 to 6 digits after "pin", "cvv",
  "security code".
- ``EMAIL``: a written address, or a spoken one (``x [dot y] at z dot com``).
- ``DATE_OF_BIRTH``: a date (a month name, day and year; or 12/05/1985) within a few words
  after "born", "birth", "birthday", "dob".
- ``ADDRESS``: a house number, up to four words, and a street word (street, road, avenue…),
  with an apartment or unit number after it.
- ``NAME``: one or two capitalised words after "my name is", "this is", "speaking with",
  "Mr", "Mrs", "Ms", "Dr" (only where the recogniser capitalised them).

Shorter numbers (prices, times, quantities) are left alone. Recall and precision on the
labelled set the tests synthesise are in bench/RESULTS.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.analysis.alignment import join_words
from core.domain import Audio, Utterance, Word

DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
REPEAT_WORDS = {"double": 2, "triple": 3}
FILLERS = {"uh", "um", "erm", "er", "dash", "hyphen"}
MONTHS = {
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
}
NUMBER_WORDS = set(DIGIT_WORDS) | {
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
}
ORDINALS = {
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
    "thirtieth",
}
STREET_WORDS = {
    "street",
    "st",
    "road",
    "rd",
    "avenue",
    "ave",
    "lane",
    "ln",
    "drive",
    "dr",
    "boulevard",
    "blvd",
    "court",
    "ct",
    "way",
    "place",
    "terrace",
    "crescent",
    "close",
    "highway",
    "parkway",
}
UNIT_WORDS = {"apartment", "apt", "unit", "suite", "flat"}
TLDS = {"com", "net", "org", "edu", "gov", "io", "co", "uk", "us", "de", "fr", "info", "biz"}
NAME_TRIGGERS = [
    ("my", "name", "is"),
    ("my", "name"),  # "my name's" (the 's goes in normalising)
    ("name", "is"),
    ("i'm",),
    ("i", "am"),
    ("speaking", "to"),
    ("holder", "is"),
    ("this", "is"),
    ("speaking", "with"),
    ("talking", "to"),
    ("mr",),
    ("mrs",),
    ("ms",),
    ("miss",),
    ("dr",),
]
NOT_NAMES = {"I", "I'm", "The", "A", "An", "Yes", "No", "Okay", "OK", "Thank", "Thanks", "Hello"}

# (context words, type, fewest digits) in the order they are tried; the context must be
# within CONTEXT_WORDS words before the number.
CONTEXTS: list[tuple[frozenset[str], str, int]] = [
    (frozenset({"social", "ssn"}), "SSN", 4),
    (frozenset({"pin", "cvv", "cvc", "security"}), "PIN", 3),
    (frozenset({"card", "visa", "mastercard", "amex"}), "CARD_NUMBER", 12),
    (frozenset({"phone", "mobile", "cell", "call", "reach", "telephone"}), "PHONE_NUMBER", 7),
    (
        frozenset({"account", "policy", "member", "reference", "order", "customer"}),
        "ACCOUNT_NUMBER",
        4,
    ),
]
CONTEXT_WORDS = 8
DOB_CONTEXT = {"born", "birth", "birthday", "dob"}
PAD_S = 0.1  # silence this much more on each side of a redacted word span


@dataclass(frozen=True)
class Redaction:
    """One finding: its type, the utterance, and the times of the words it replaced."""

    type: str
    utterance: int
    start: float
    end: float


def _norm(token: str) -> str:
    word = token.lower().strip(".,!?;:\"'()[]")
    return word[:-2] if word.endswith("'s") else word


def _digits(token: str) -> str | None:
    """The digits a written token stands for ("4572", "4572-1234", "(555)"), or None."""
    cleaned = token.strip(".,!?;:\"'()[]-")
    if cleaned and re.fullmatch(r"[\d][\d\-,./]*", cleaned) and not re.search(r"\d\.\d", cleaned):
        return re.sub(r"\D", "", cleaned)
    return None


@dataclass
class _Span:
    first: int
    last: int  # inclusive
    type: str


def _number_runs(tokens: Sequence[str]) -> list[tuple[int, int, str]]:
    """Maximal runs of digit tokens: (first, last, digits)."""
    runs: list[tuple[int, int, str]] = []
    i, n = 0, len(tokens)
    while i < n:
        digits, first, last, j = "", -1, -1, i
        while j < n:
            word = _norm(tokens[j])
            written = _digits(tokens[j])
            at = j
            if written is not None:
                digits += written
            elif word in DIGIT_WORDS and (
                word not in {"o", "oh", "one"} or digits or _digit_next(tokens, j)
            ):
                digits += DIGIT_WORDS[word]
            elif word in REPEAT_WORDS and j + 1 < n and _norm(tokens[j + 1]) in DIGIT_WORDS:
                digits += DIGIT_WORDS[_norm(tokens[j + 1])] * REPEAT_WORDS[word]
                j += 1
            elif word in FILLERS and digits:
                j += 1
                continue
            else:
                break
            first = at if first < 0 else first
            last = j
            j += 1
        if digits:
            runs.append((first, last, digits))
            i = last + 1
        else:
            i += 1
    return runs


def _digit_next(tokens: Sequence[str], j: int) -> bool:
    return j + 1 < len(tokens) and (
        _norm(tokens[j + 1]) in DIGIT_WORDS or _digits(tokens[j + 1]) is not None
    )


def _number_type(tokens: Sequence[str], first: int, digits: str) -> str | None:
    before = {_norm(t) for t in tokens[max(0, first - CONTEXT_WORDS) : first]}
    count = len(digits)
    for words, kind, fewest in CONTEXTS:
        if before & words and count >= fewest:
            if kind == "PIN" and count > 6:
                continue
            if kind == "SSN" and count not in (4, 9):  # the last four, or all nine
                continue
            return kind
    if 13 <= count <= 19:
        return "CARD_NUMBER"
    if count in (10, 11):
        return "PHONE_NUMBER"
    if 6 <= count <= 12:
        return "ACCOUNT_NUMBER"
    return None


def _emails(tokens: Sequence[str]) -> list[_Span]:
    spans = []
    for i, token in enumerate(tokens):
        if re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", token.strip(".,!?;:\"'()")):
            spans.append(_Span(i, i, "EMAIL"))
    words = [_norm(t) for t in tokens]
    for i, word in enumerate(words):
        if word != "at" or i == 0:
            continue
        # Right: domain (dot part)+ ending in a known top-level domain.
        j, parts = i + 1, 0
        while j + 2 < len(words) + 1 and j < len(words) and words[j] not in {"dot", "at"}:
            if j + 1 < len(words) and words[j + 1] == "dot":
                j += 2
                parts += 1
                continue
            break
        if parts == 0 or j >= len(words) or words[j] not in TLDS:
            continue
        end = j
        # Left: a name, possibly "john dot smith" or "john underscore smith".
        start = i - 1
        while start - 2 >= 0 and words[start - 1] in {"dot", "underscore", "dash"}:
            start -= 2
        spans.append(_Span(start, end, "EMAIL"))
    return spans


def _dates_of_birth(tokens: Sequence[str]) -> list[_Span]:
    spans = []
    words = [_norm(t) for t in tokens]
    for i, word in enumerate(words):
        spelled = word == "b" and words[max(0, i - 2) : i] == ["d", "o"]  # "D O B"
        if word not in DOB_CONTEXT and not spelled:
            continue
        window = range(i + 1, min(len(words), i + 1 + 12))
        first = last = -1
        month = numeric = written_date = False
        for j in window:
            w = words[j]
            datey = (
                w in MONTHS
                or w in NUMBER_WORDS
                or w in ORDINALS
                or re.fullmatch(r"\d{1,4}(st|nd|rd|th)?", w) is not None
                or re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", w) is not None
            )
            joiner = w in {"the", "of", "and"} and first >= 0
            if datey:
                first = j if first < 0 else first
                last = j
                month |= w in MONTHS
                numeric |= w not in MONTHS
                written_date |= (
                    re.fullmatch(r"(19|20)\d\d|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", w) is not None
                )
            elif joiner:
                continue
            elif first >= 0:
                break
        # "may" alone is a verb: a month counts with a day or a year beside it.
        if first >= 0 and ((month and numeric) or written_date):
            spans.append(_Span(first, last, "DATE_OF_BIRTH"))
    return spans


def _addresses(tokens: Sequence[str], runs: list[tuple[int, int, str]]) -> list[_Span]:
    spans = []
    words = [_norm(t) for t in tokens]
    numbered = [(f, la) for f, la, _ in runs] + [
        (i, i)
        for i, w in enumerate(words)
        if re.fullmatch(r"\d+[a-z]", w)  # 221B
    ]
    for first, last in numbered:
        for j in range(last + 2, min(len(words), last + 6)):
            if words[j] in STREET_WORDS:
                end = j
                if end + 1 < len(words) and words[end + 1] in UNIT_WORDS:
                    end += 1
                    while end + 1 < len(words) and (
                        _digits(tokens[end + 1]) is not None or words[end + 1] in DIGIT_WORDS
                    ):
                        end += 1
                spans.append(_Span(first, end, "ADDRESS"))
                break
    return spans


def _names(tokens: Sequence[str]) -> list[_Span]:
    spans = []
    words = [_norm(t) for t in tokens]
    for i in range(len(words)):
        for trigger in NAME_TRIGGERS:
            k = len(trigger)
            if tuple(words[i : i + k]) != trigger:
                continue
            j = i + k
            first = j
            while j < len(tokens) and j - first < 2:
                raw = tokens[j].strip(".,!?;:\"'()")
                if not raw or not raw[0].isupper() or raw in NOT_NAMES or not raw.isalpha():
                    break
                j += 1
                if tokens[j - 1][-1:] in {".", ",", "?", "!", ";"}:
                    break  # the sentence or the clause ends with the name
            if j > first:
                spans.append(_Span(first, j - 1, "NAME"))
            break
    return spans


def find(tokens: Sequence[str]) -> list[_Span]:
    """Every PII span in one utterance's tokens, longest first where they overlap."""
    runs = _number_runs(tokens)
    spans = _emails(tokens) + _dates_of_birth(tokens) + _addresses(tokens, runs)
    for first, last, digits in runs:
        kind = _number_type(tokens, first, digits)
        if kind is not None:
            spans.append(_Span(first, last, kind))
    spans += _names(tokens)
    chosen: list[_Span] = []
    taken: set[int] = set()
    for span in sorted(spans, key=lambda s: (s.first - s.last, s.first)):
        cover = set(range(span.first, span.last + 1))
        if not cover & taken:
            chosen.append(span)
            taken |= cover
    return sorted(chosen, key=lambda s: s.first)


class PiiRedactor:
    """Replaces PII in utterances (their words and text) with ``[TYPE]`` tags, in place."""

    def redact(self, utterances: Iterable[Utterance]) -> list[Redaction]:
        found: list[Redaction] = []
        for utterance in utterances:
            words = utterance.words
            spans = find([w.text for w in words])
            if not spans:
                continue
            out: list[Word] = []
            i = 0
            for span in spans:
                out.extend(words[i : span.first])
                covered = words[span.first : span.last + 1]
                tag = Word(f"[{span.type}]", covered[0].start, covered[-1].end, 1.0)
                out.append(tag)
                found.append(Redaction(span.type, utterance.index, tag.start, tag.end))
                i = span.last + 1
            out.extend(words[i:])
            utterance.words = out
            utterance.text = join_words(out)
        return found


def silence(audio: Audio, redactions: Sequence[Redaction], pad_s: float = PAD_S) -> Audio:
    """A copy of ``audio`` with every redacted span (padded) silenced on every channel."""
    rate = audio.sample_rate
    channels = tuple(np.array(c, dtype=np.float32, copy=True) for c in audio.channels)
    mono = np.array(audio.mono, dtype=np.float32, copy=True)
    for r in redactions:
        a = max(0, int((r.start - pad_s) * rate))
        b = min(len(mono), int(np.ceil((r.end + pad_s) * rate)))
        mono[a:b] = 0.0
        for c in channels:
            c[a:b] = 0.0
    return Audio(mono=mono, channels=channels, info=audio.info, sample_rate=rate)


def write_wav(audio: Audio, path: str) -> None:
    """16-bit PCM WAV at the model rate, every source channel kept."""
    import wave

    frames = np.stack(audio.channels, axis=1) if audio.channels else audio.mono[:, None]
    pcm = (np.clip(frames, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(path, "wb") as out:
        out.setnchannels(pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(audio.sample_rate)
        out.writeframes(pcm.tobytes())
