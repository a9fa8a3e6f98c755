"""QA scorecards: a checklist scored per call, each item with the utterance that shows it.

The default checklist is the one call-centre QA teams start from: greeting, identity
verification, empathy, an apology where one is warranted, a resolution offered, and a
closing. ``QA_SCORECARD`` may point at a JSON file with another (same shape as
:data:`DEFAULT_SCORECARD`). Each item is scored by rules (phrases the agent says, where in
the call) unless an OpenAI-compatible server is configured, which then judges every item
from the numbered transcript and names the evidence; a server that fails or answers
nonsense falls back to the rules, and the result says which method scored it.

An item is ``passed`` (true/false) or not applicable (null: an apology when the customer
was never unhappy); the score is the weighted share of applicable items passed, 0 to 100.

The default checklist's phrases are English: on a call in another language the rules do not
score it (every item null, no score, ``method`` ``unavailable`` and a ``reason``) rather than
fail every item. A scorecard file may name its ``language``; one that does not is taken to
be written for the calls it scores.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.analysis.languages import base_language, is_english
from core.errors import InvalidInputError

log = logging.getLogger(__name__)

NEGATIVE_SCORE = -0.3  # a customer utterance at or below this warrants an apology


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    phrases: tuple[str, ...]
    description: str = ""
    within_first_s: float | None = None
    within_last_s: float | None = None
    # "always", or "customer_negative": applies only if the customer was unhappy at some point
    applies: str = "always"
    weight: float = 1.0


@dataclass(frozen=True)
class Scorecard:
    name: str
    items: tuple[Item, ...] = field(default_factory=tuple)
    language: str | None = None  # the language of the phrases; None: the calls' own

    def reads(self, language: str | None) -> bool:
        """Whether the phrase rules apply to a call in ``language``."""
        if self.language is None:
            return True
        if is_english(self.language):
            return is_english(language)
        return base_language(language) == base_language(self.language)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scorecard:
        try:
            items = tuple(
                Item(**{**item, "phrases": tuple(item["phrases"])}) for item in data["items"]
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(
                f"Not a QA scorecard: {exc}.",
                "Give a name and items, each with id, name and phrases (see core/analysis/qa.py).",
            ) from None
        if not items:
            raise InvalidInputError("A QA scorecard needs at least one item.")
        for item in items:
            if item.applies not in ("always", "customer_negative"):
                raise InvalidInputError(
                    f"Item {item.id}: applies must be always or customer_negative."
                )
        language = data.get("language")
        return cls(str(data.get("name") or "custom"), items, str(language) if language else None)

    @classmethod
    def load(cls, path: str | Path | None) -> Scorecard:
        if not path:
            return DEFAULT_SCORECARD
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInputError(
                f"QA_SCORECARD {path} cannot be read: {exc}.",
                "Point it at a JSON scorecard, or unset it for the default.",
            ) from None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "items": [asdict(i) for i in self.items]}
        if self.language is not None:
            out["language"] = self.language
        return out


DEFAULT_SCORECARD = Scorecard(
    "default",
    (
        Item(
            "greeting",
            "Greeting",
            (
                "thank you for calling",
                "thanks for calling",
                "welcome to",
                "good morning",
                "good afternoon",
                "good evening",
                "how can i help",
                "how may i help",
                "hello",
                "hi",
            ),
            "The agent greets the customer in the first 30 seconds.",
            within_first_s=30.0,
        ),
        Item(
            "identity_verification",
            "Identity verification",
            (
                "date of birth",
                "verify",
                "confirm your",
                "security question",
                "postcode",
                "zip code",
                "account number",
                "last four",
                "full name",
                "first line of your address",
            ),
            "The agent checks who the caller is.",
        ),
        Item(
            "empathy",
            "Empathy",
            (
                "i understand",
                "sorry to hear",
                "that must be",
                "i can see why",
                "i appreciate",
                "frustrating",
                "i know how",
                "i hear you",
            ),
            "The agent acknowledges how the customer feels.",
        ),
        Item(
            "apology",
            "Apology where warranted",
            ("sorry", "apologize", "apologise", "apologies"),
            "The agent apologises when the customer was unhappy.",
            applies="customer_negative",
        ),
        Item(
            "resolution_offered",
            "Resolution offered",
            (
                "i can",
                "i will",
                "i'll",
                "we can",
                "we will",
                "we'll",
                "let me",
                "i've",
                "refund",
                "credit",
                "replacement",
                "fixed",
                "resolved",
                "saved",
            ),
            "The agent offers or carries out a fix.",
        ),
        Item(
            "closing",
            "Closing",
            (
                "anything else",
                "have a great day",
                "have a good day",
                "have a nice day",
                "thank you for calling",
                "thanks for calling",
                "goodbye",
                "bye",
                "take care",
                "have a safe",
            ),
            "The agent closes the call properly in its last 45 seconds.",
            within_last_s=45.0,
        ),
    ),
    language="en",
)


def _normal(text: str) -> str:
    return " " + " ".join(re.sub(r"[^\w']+", " ", text.lower()).split()) + " "


def applicable(item: Item, document: dict[str, Any]) -> bool:
    if item.applies == "always":
        return True
    return any(
        u["role"] == "customer"
        and u.get("sentiment")
        and u["sentiment"]["score"] is not None
        and u["sentiment"]["score"] <= NEGATIVE_SCORE
        for u in document.get("utterances") or []
    ) or bool(((document.get("analysis") or {}).get("conflict") or {}).get("detected"))


def rule_evidence(item: Item, document: dict[str, Any]) -> int | None:
    """The first agent utterance (in the item's time window) that says one of its phrases."""
    duration = (document.get("audio") or {}).get("duration_s") or 0.0
    phrases = [_normal(p) for p in item.phrases]
    for u in document.get("utterances") or []:
        if u["role"] != "agent":
            continue
        if item.within_first_s is not None and u["start"] > item.within_first_s:
            continue
        if item.within_last_s is not None and u["end"] < duration - item.within_last_s:
            continue
        text = _normal(u["text"])
        if any(p in text for p in phrases):
            return int(u["index"])
    return None


def result(
    scorecard: Scorecard,
    document: dict[str, Any],
    evidence: dict[str, int | None],
    method: str,
) -> dict[str, Any]:
    """The ``qa`` part of a document from each item's evidence (None: not shown)."""
    texts = {u["index"]: u["text"] for u in document.get("utterances") or []}
    items, earned, possible = [], 0.0, 0.0
    for item in scorecard.items:
        if not applicable(item, document):
            items.append({"id": item.id, "name": item.name, "passed": None, "evidence": None})
            continue
        index = evidence.get(item.id)
        passed = index is not None and index in texts
        possible += item.weight
        earned += item.weight if passed else 0.0
        entry: dict[str, Any] = {"id": item.id, "name": item.name, "passed": passed}
        entry["evidence"] = {"utterance": index, "text": texts[index]} if passed else None
        items.append(entry)
    score = round(100 * earned / possible, 1) if possible else None
    return {"scorecard": scorecard.name, "method": method, "score": score, "items": items}


class QAScorer:
    """Scores a document by rules, or by an OpenAI-compatible server when one is given."""

    def __init__(self, scorecard: Scorecard = DEFAULT_SCORECARD, llm: Any = None) -> None:
        """``llm``: an object with ``async judge(scorecard, document) -> {item id: index}``
        (:class:`services.llm.qa.OpenAIQAJudge`), or None for rules only."""
        self.scorecard = scorecard
        self.llm = llm

    def score_by_rules(self, document: dict[str, Any]) -> dict[str, Any]:
        language = document.get("language")
        if not self.scorecard.reads(language):
            return self.unavailable(document, str(language))
        evidence = {item.id: rule_evidence(item, document) for item in self.scorecard.items}
        return result(self.scorecard, document, evidence, "rules")

    def unavailable(self, document: dict[str, Any], language: str) -> dict[str, Any]:
        """Not scored: the checklist's phrases are in another language than the call."""
        scored = result(self.scorecard, document, {}, "unavailable")
        scored["score"] = None
        for item in scored["items"]:
            item["passed"], item["evidence"] = None, None
        scored["reason"] = (
            f"the {self.scorecard.name} scorecard's phrases are in {self.scorecard.language}; "
            f"call language {language}"
        )
        return scored

    async def score(self, document: dict[str, Any]) -> dict[str, Any]:
        if self.llm is None or not document.get("utterances"):
            return self.score_by_rules(document)
        try:
            evidence = await self.llm.judge(self.scorecard, document)
        except Exception as exc:  # the rules stand in; the result says so
            log.warning("qa: the LLM could not score the call (%s); scoring by rules", exc)
            scored = self.score_by_rules(document)
            if scored["method"] == "rules":
                scored["method"] = "rules (llm failed)"
            return scored
        return result(self.scorecard, document, evidence, "llm")


def numbered_transcript(document: dict[str, Any], items: Sequence[Item]) -> str:
    lines = [
        f"[{u['index']}] {u['role'].upper()} ({u['start']:.0f}s): {u['text']}"
        for u in document.get("utterances") or []
    ]
    checklist = [f"- {i.id}: {i.name}. {i.description}" for i in items]
    return "Checklist:\n" + "\n".join(checklist) + "\n\nTranscript:\n" + "\n".join(lines)
