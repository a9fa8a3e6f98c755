"""A labelled set for PII redaction: utterances as a recogniser writes them, with the spans
that are personal data marked, plus utterances that look like it and are not.

Each case is a list of (text, label) pieces: the text is split into words, and every word
of a labelled piece belongs to one span of that type. Values are drawn at random (seeded)
and written the ways Whisper writes speech: digits ("4572 1234"), number words ("four five
seven two"), "double five", spoken e-mails ("jane dot doe at gmail dot com").
"""

from __future__ import annotations

import random
from dataclasses import dataclass

DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
FIRST = ["Maria", "James", "Aisha", "Tom", "Priya", "Lucas", "Emma", "Kenji", "Sofia", "Omar"]
LAST = ["Garcia", "Smith", "Khan", "Nguyen", "Rossi", "Muller", "Okafor", "Silva", "Brown"]
STREETS = ["Maple", "Oak", "Station", "Church", "Elm", "Harbor", "Mill", "Park View"]
SUFFIXES = ["Street", "Road", "Avenue", "Lane", "Drive"]
MONTHS = ["January", "March", "May", "July", "August", "October", "December"]
DOMAINS = ["gmail", "outlook", "yahoo", "example"]


@dataclass(frozen=True)
class Case:
    pieces: tuple[tuple[str, str | None], ...]

    @property
    def words(self) -> list[str]:
        return [w for text, _ in self.pieces for w in text.split()]

    @property
    def spans(self) -> list[tuple[int, int, str]]:
        """(first word, last word, type) of each labelled piece."""
        spans, i = [], 0
        for text, label in self.pieces:
            n = len(text.split())
            if label is not None:
                spans.append((i, i + n - 1, label))
            i += n
        return spans


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _say(rng: random.Random, digits: str, groups: int = 4) -> str:
    """A number as it is read out: in digit groups, as number words, or mixed."""
    style = rng.choice(["written", "words", "words", "double"])
    if style == "written":
        return " ".join(digits[i : i + groups] for i in range(0, len(digits), groups))
    words = []
    i = 0
    while i < len(digits):
        if style == "double" and i + 1 < len(digits) and digits[i] == digits[i + 1]:
            words += ["double", DIGIT_NAMES[int(digits[i])]]
            i += 2
            continue
        words.append(DIGIT_NAMES[int(digits[i])])
        i += 1
    return " ".join(words)


def _card(rng: random.Random) -> str:
    return _say(rng, rng.choice("3456") + _digits(rng, 15))


def _email(rng: random.Random) -> str:
    first, last, domain = rng.choice(FIRST).lower(), rng.choice(LAST).lower(), rng.choice(DOMAINS)
    if rng.random() < 0.4:
        return f"{first}.{last}@{domain}.com"
    return f"{first} dot {last} at {domain} dot com"


def _date(rng: random.Random) -> str:
    day, month, year = rng.randint(1, 28), rng.choice(MONTHS), rng.randint(1940, 2005)
    return rng.choice([f"{month} {day}, {year}", f"{day:02d}/{rng.randint(1, 12):02d}/{year}"])


def _address(rng: random.Random) -> str:
    text = f"{rng.randint(2, 999)} {rng.choice(STREETS)} {rng.choice(SUFFIXES)}"
    return text + (f" apartment {rng.randint(1, 40)}" if rng.random() < 0.3 else "")


POSITIVE = [
    lambda r: (
        ("Sure, the card number is", None),
        (_card(r), "CARD_NUMBER"),
        ("and it expires soon.", None),
    ),
    lambda r: (("It's", None), (_card(r), "CARD_NUMBER"), (".", None)),
    lambda r: (
        ("My phone number is", None),
        (_say(r, "555" + _digits(r, 7), 3), "PHONE_NUMBER"),
        ("thanks.", None),
    ),
    lambda r: (
        ("You can reach me on", None),
        (_say(r, "07" + _digits(r, 9), 3), "PHONE_NUMBER"),
        ("anytime.", None),
    ),
    lambda r: (
        ("The account number is", None),
        (_say(r, _digits(r, 8)), "ACCOUNT_NUMBER"),
        (".", None),
    ),
    lambda r: (
        ("My policy reference is", None),
        (_say(r, _digits(r, 6)), "ACCOUNT_NUMBER"),
        ("I think.", None),
    ),
    lambda r: (("My email is", None), (_email(r), "EMAIL"), ("if that helps.", None)),
    lambda r: (("My date of birth is", None), (_date(r), "DATE_OF_BIRTH"), (".", None)),
    lambda r: (("I was born on", None), (_date(r), "DATE_OF_BIRTH"), ("actually.", None)),
    lambda r: (("I live at", None), (_address(r), "ADDRESS"), ("in town.", None)),
    lambda r: (("The address is", None), (_address(r), "ADDRESS"), (".", None)),
    lambda r: (
        ("Hi, my name is", None),
        (f"{r.choice(FIRST)} {r.choice(LAST)}", "NAME"),
        ("and I have a question.", None),
    ),
    lambda r: (
        ("Thank you for calling, this is", None),
        (r.choice(FIRST), "NAME"),
        ("speaking.", None),
    ),
    lambda r: (
        ("The last four of my social security number are", None),
        (_say(r, _digits(r, 4)), "SSN"),
        (".", None),
    ),
    lambda r: (
        ("My social security number is", None),
        (_say(r, _digits(r, 9), 3), "SSN"),
        (".", None),
    ),
    lambda r: (("The card security code is", None), (_say(r, _digits(r, 3)), "PIN"), (".", None)),
]
NEGATIVE = [
    "The plan costs 49 dollars and 99 cents a month.",
    "I have two questions about my bill from May.",
    "May I put you on hold for one moment?",
    "Your order will arrive in three to five business days.",
    "I called you 3 times last week, at 9 in the morning.",
    "Flight two forty leaves at six fifteen from gate twelve.",
    "I'm sorry to hear that, this is not the service we want.",
    "My name is on the account, yes.",
    "We can do that at no extra cost.",
    "It happened on the 5th of the month, twice.",
    "I have been a customer for 12 years.",
    "Please press one, then two, then the hash key.",
    "The router model is RT 4500.",
    "That is about 20 percent off until 2027.",
]


def labelled_set(n: int = 400, seed: int = 7) -> list[Case]:
    """``n`` cases, about one in four without any personal data."""
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        if rng.random() < 0.25:
            cases.append(Case(((rng.choice(NEGATIVE), None),)))
        else:
            pieces = rng.choice(POSITIVE)(rng)
            cases.append(Case(tuple((t, label) for t, label in pieces if t)))
    return cases


def score(cases: list[Case], find) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Span-level recall and precision per type (a found span counts when it overlaps a
    labelled span of the same type), and over all types."""
    from collections import defaultdict

    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    fn: dict[str, int] = defaultdict(int)
    for case in cases:
        truth = case.spans
        found = [(s.first, s.last, s.type) for s in find(case.words)]
        for f in found:
            hit = any(t[2] == f[2] and t[0] <= f[1] and f[0] <= t[1] for t in truth)
            (tp if hit else fp)[f[2]] += 1
        for t in truth:
            if not any(f[2] == t[2] and f[0] <= t[1] and t[0] <= f[1] for f in found):
                fn[t[2]] += 1
    report: dict[str, dict[str, float]] = {}
    for kind in [*sorted(set(tp) | set(fp) | set(fn)), "all"]:
        hits = sum(tp.values()) if kind == "all" else tp[kind]
        extra = sum(fp.values()) if kind == "all" else fp[kind]
        missed = sum(fn.values()) if kind == "all" else fn[kind]
        report[kind] = {
            "recall": hits / (hits + missed) if hits + missed else 1.0,
            "precision": hits / (hits + extra) if hits + extra else 1.0,
            "spans": hits + missed,
        }
    return report


# Written apart from the templates above, in other phrasings, to see what the rules miss;
# the figures on these are reported, not asserted to be high.
HARD: list[Case] = [
    Case(
        (
            ("yeah it's", None),
            ("4111 1111 1111 1111", "CARD_NUMBER"),
            ("expiry oh nine twenty six", None),
        )
    ),
    Case(
        (
            ("the long number on the front is", None),
            (
                "five four one two seven five three two one two three four five six seven eight",
                "CARD_NUMBER",
            ),
        )
    ),
    Case(
        (
            ("you can text me on", None),
            ("07700 900 123", "PHONE_NUMBER"),
        )
    ),
    Case(
        (
            ("best to ring", None),
            ("oh two zero seven nine four six oh five eight one", "PHONE_NUMBER"),
        )
    ),
    Case(
        (
            ("it's", None),
            ("jane underscore doe at outlook dot co dot uk", "EMAIL"),
        )
    ),
    Case(
        (
            ("email me at", None),
            ("j doe 85 at gmail dot com", "EMAIL"),
        )
    ),
    Case(
        (
            ("D O B is", None),
            ("the third of June 1979", "DATE_OF_BIRTH"),
        )
    ),
    Case(
        (
            ("my birthday's", None),
            ("12th of October", "DATE_OF_BIRTH"),
        )
    ),
    Case(
        (
            ("we moved to", None),
            ("221B Baker Street", "ADDRESS"),
        )
    ),
    Case(
        (
            ("it's flat 4,", None),
            ("18 Kings Road", "ADDRESS"),
        )
    ),
    Case((("hi, I'm", None), ("Daniel Osei", "NAME"), ("calling about my bill", None))),
    Case((("you're speaking to", None), ("Fatima", "NAME"), ("today", None))),
    Case(
        (
            ("the account holder is", None),
            ("Robert Chen", "NAME"),
        )
    ),
    Case(
        (
            ("member ID", None),
            ("AB 1234 5678", "ACCOUNT_NUMBER"),
        )
    ),
    Case(
        (
            ("my customer number, let me see, it's", None),
            ("7 7 3 4 2 1 9", "ACCOUNT_NUMBER"),
        )
    ),
    Case(
        (
            ("the sort code is", None),
            ("20 45 77", "ACCOUNT_NUMBER"),
        )
    ),
    Case((("I paid 1200 pounds on the 3rd", None),)),
    Case((("call 911 if there is an emergency", None),)),
    Case((("the reference for the outage is INC 0045", None),)),
    Case((("I have been waiting 45 minutes since 10 30", None),)),
]
