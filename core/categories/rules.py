"""Custom categories: rules over a stored call's document that tag the calls they match.

A category is a name, a description and a list of conditions that must ALL hold; any
condition can be negated (``"negate": true``). The kinds of condition:

- ``phrase``: one of ``phrases`` is said (case-insensitive, whole words, punctuation
  ignored, on the utterance text) by ``role`` (agent, customer or any), optionally only
  within the first ``within_first_s`` or the last ``within_last_s`` seconds of the call. A
  phrase is in a window when any part of it is (its words' timestamps; an utterance
  without usable word timestamps counts with its own span). The call's end is the later
  of the audio's duration and the last utterance's end.
- ``sentiment``: the ``subject``'s (customer, agent, overall) ``mean`` sentiment (-1..1)
  ``below`` and/or ``above`` a bound; or the customer's ``change`` (the document's
  ``metrics.customer_sentiment_trend``: the score's change from start to end of the call).
  A role's mean is the mean of its speakers' ``sentiment_mean``; overall is the mean of
  every utterance's score.
- ``interruptions``: ``role`` (agent, customer, any = the call's total) interrupted at
  least ``at_least`` times (``speakers[].interruptions``, ``metrics.interruptions``).
- ``silence``: the ``longest`` silence (``metrics.longest_silence_s``) or the ``total``
  non-talk time (``metrics.non_talk_time_s``) is over ``over_s`` seconds.

A condition whose value the document does not have (no customer, no sentiment) does not
hold; negated, it does. :func:`matches` evaluates a rule; :class:`CategoryStore` keeps the
rules and the tags (tables ``categories`` and ``call_categories``); :class:`CategoryTagger`
is the analysis service's observer that tags each newly analysed call (both in
:mod:`core.categories.store`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from core.errors import InvalidInputError

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[a-z0-9_-]{1,100}$")
MAX_CONDITIONS = 20

RoleFilter = Literal["agent", "customer", "any"]


class CategoryExistsError(InvalidInputError):
    """Another category already has this name (REST answers 409)."""

    code = "category_exists"


# ------------------------------------------------------------------------- conditions
class _Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    negate: bool = Field(default=False, description="Match the calls where this does NOT hold.")


class PhraseCondition(_Condition):
    kind: Literal["phrase"]
    phrases: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1,
        max_length=50,
        description="Any of these (case-insensitive, whole words, punctuation ignored).",
        examples=[["cancel my account", "close my account"]],
    )
    role: RoleFilter = Field(default="any", description="Who says it.")
    within_first_s: float | None = Field(
        default=None, gt=0, description="Only in the first N seconds of the call."
    )
    within_last_s: float | None = Field(
        default=None, gt=0, description="Only in the last N seconds of the call."
    )

    @field_validator("phrases")
    @classmethod
    def _words(cls, phrases: list[str]) -> list[str]:
        for phrase in phrases:
            if not tokens(phrase):
                raise ValueError(f"the phrase {phrase!r} has no words")
        return phrases

    @model_validator(mode="after")
    def _one_window(self) -> PhraseCondition:
        if self.within_first_s is not None and self.within_last_s is not None:
            raise ValueError("give within_first_s or within_last_s, not both")
        return self


class SentimentCondition(_Condition):
    kind: Literal["sentiment"]
    subject: Literal["customer", "agent", "overall"] = Field(
        default="customer", description="Whose sentiment: a role's, or every utterance's."
    )
    measure: Literal["mean", "change"] = Field(
        default="mean",
        description="`mean` (-1..1), or `change` from start to end of the call (the "
        "customer's sentiment trend; customer only).",
    )
    below: float | None = Field(default=None, ge=-2, le=2, description="Less than this.")
    above: float | None = Field(default=None, ge=-2, le=2, description="More than this.")

    @model_validator(mode="after")
    def _bounds(self) -> SentimentCondition:
        if self.below is None and self.above is None:
            raise ValueError("give below, above or both")
        if self.below is not None and self.above is not None and self.above >= self.below:
            raise ValueError("above must be less than below (a range between them)")
        if self.measure == "change" and self.subject != "customer":
            raise ValueError("measure 'change' is only known for the customer")
        return self


class InterruptionsCondition(_Condition):
    kind: Literal["interruptions"]
    role: RoleFilter = Field(default="any", description="Who interrupts; `any`: the call's total.")
    at_least: int = Field(ge=1, le=100_000, description="At least this many interruptions.")


class SilenceCondition(_Condition):
    kind: Literal["silence"]
    measure: Literal["longest", "total"] = Field(
        default="longest", description="The longest silence, or the total non-talk time."
    )
    over_s: float = Field(ge=0, le=86_400, description="More than this many seconds.")


Condition = Annotated[
    PhraseCondition | SentimentCondition | InterruptionsCondition | SilenceCondition,
    Field(discriminator="kind"),
]
_conditions_adapter: TypeAdapter[list[Condition]] = TypeAdapter(list[Condition])


class CategoryRule(BaseModel):
    """A category as a client defines it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=100,
        description="Unique; letters, digits, `_` and `-` (stored lower-case).",
        examples=["cancellation-risk"],
    )
    description: str = Field(default="", max_length=2000)
    conditions: list[Condition] = Field(
        min_length=1,
        max_length=MAX_CONDITIONS,
        description="All must hold. Each has a `kind`: phrase, sentiment, interruptions or "
        "silence; `negate: true` inverts it.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        name = name.strip().lower()
        if not NAME_PATTERN.match(name):
            raise ValueError("use 1 to 100 letters, digits, '_' or '-'")
        return name


def parse_rule(data: Any) -> CategoryRule:
    """A rule from plain data (GraphQL, the CLI); InvalidInputError says what is wrong."""
    try:
        return CategoryRule.model_validate(data)
    except ValidationError as exc:
        raise InvalidInputError(describe_errors(exc), "See the conditions in GET /docs.") from exc


def parse_conditions(data: Any) -> list[Condition]:
    return _conditions_adapter.validate_python(data)


def describe_errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"]
        for e in exc.errors()
    )


# ------------------------------------------------------------------------- evaluation
_APOSTROPHES = re.compile(r"['\u2019`]")
_NON_WORD = re.compile(r"[^\w]+")


def tokens(text: str) -> list[str]:
    """Lower-case words with punctuation removed ("Don't!" -> ["dont"])."""
    return _NON_WORD.sub(" ", _APOSTROPHES.sub("", text.lower())).split()


@dataclass(frozen=True)
class _Token:
    text: str
    start: float
    end: float


def _utterance_tokens(utterance: dict[str, Any]) -> list[_Token]:
    """The utterance text's tokens, timed by its words when they line up with the text."""
    said = tokens(utterance.get("text") or "")
    timed = [
        _Token(t, float(w["start"]), float(w["end"]))
        for w in utterance.get("words") or []
        for t in tokens(str(w.get("word", "")))
    ]
    if [t.text for t in timed] == said:
        return timed
    start, end = float(utterance.get("start", 0.0)), float(utterance.get("end", 0.0))
    return [_Token(t, start, end) for t in said]


def call_end(document: dict[str, Any]) -> float:
    duration = float((document.get("audio") or {}).get("duration_s") or 0.0)
    last = max((float(u.get("end", 0.0)) for u in document.get("utterances") or []), default=0.0)
    return max(duration, last)


def _phrase_holds(c: PhraseCondition, document: dict[str, Any]) -> bool:
    wanted = [tokens(p) for p in c.phrases]
    end = call_end(document)
    for utterance in document.get("utterances") or []:
        if c.role != "any" and utterance.get("role") != c.role:
            continue
        said = _utterance_tokens(utterance)
        for phrase in wanted:
            n = len(phrase)
            for i in range(len(said) - n + 1):
                if [t.text for t in said[i : i + n]] != phrase:
                    continue
                first, last = said[i], said[i + n - 1]
                if c.within_first_s is not None and first.start >= c.within_first_s:
                    continue
                if c.within_last_s is not None and last.end <= end - c.within_last_s:
                    continue
                return True
    return False


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def sentiment_value(subject: str, measure: str, document: dict[str, Any]) -> float | None:
    if measure == "change":
        return (document.get("metrics") or {}).get("customer_sentiment_trend")
    if subject == "overall":
        return _mean(
            [
                float(u["sentiment"]["score"])
                for u in document.get("utterances") or []
                if u.get("sentiment") and u["sentiment"].get("score") is not None
            ]
        )
    return _mean(
        [
            float(s["sentiment_mean"])
            for s in document.get("speakers") or []
            if s.get("role") == subject and s.get("sentiment_mean") is not None
        ]
    )


def _sentiment_holds(c: SentimentCondition, document: dict[str, Any]) -> bool:
    value = sentiment_value(c.subject, c.measure, document)
    if value is None:
        return False
    if c.below is not None and not value < c.below:
        return False
    return not (c.above is not None and not value > c.above)


def _interruptions_holds(c: InterruptionsCondition, document: dict[str, Any]) -> bool:
    if c.role == "any":
        count = (document.get("metrics") or {}).get("interruptions")
        if count is None:
            return False
    else:
        count = sum(
            int(s.get("interruptions") or 0)
            for s in document.get("speakers") or []
            if s.get("role") == c.role
        )
    return int(count) >= c.at_least


def _silence_holds(c: SilenceCondition, document: dict[str, Any]) -> bool:
    field = "longest_silence_s" if c.measure == "longest" else "non_talk_time_s"
    value = (document.get("metrics") or {}).get(field)
    return value is not None and float(value) > c.over_s


def holds(condition: Condition, document: dict[str, Any]) -> bool:
    """Whether ``condition`` holds for the document, before its ``negate``."""
    if isinstance(condition, PhraseCondition):
        return _phrase_holds(condition, document)
    if isinstance(condition, SentimentCondition):
        return _sentiment_holds(condition, document)
    if isinstance(condition, InterruptionsCondition):
        return _interruptions_holds(condition, document)
    return _silence_holds(condition, document)


def matches(conditions: Iterable[Condition], document: dict[str, Any]) -> bool:
    """Whether every condition (each negated where it says so) holds for the document."""
    return all(holds(c, document) != c.negate for c in conditions)
