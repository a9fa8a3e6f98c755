"""Read a model's reply field by field: a field that is missing, malformed or cut off is
``None`` (the rules answer it) and the reason is kept, so one bad field never costs the rest.

The JSON is found bare, in ```json fences or after a <think> block; a reply cut off at the
token limit keeps every top-level field that was complete. Lenient where ``json_object``
replies drift (a string for a list, "Resolved." for "resolved", ``conflict`` as an object or
a bool, action items as plain strings); strict where it matters: utterance indexes and
speaker ids that the transcript does not have are dropped.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from core.domain import Resolution, Role, SentimentLabel

log = logging.getLogger(__name__)

MAX_TOPICS = 5
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_RESOLUTIONS = {r.value for r in Resolution}
_ROLES = {"agent": Role.AGENT, "customer": Role.CUSTOMER}
_SENTIMENTS = {s.value for s in SentimentLabel}
# The fields a model can answer; each is judged on its own (bench/llm.py measures them).
# Profanity is not among them: the phrase list finds it exactly, and no task asks for it.
FIELDS = (
    "summary",
    "reason",
    "resolution",
    "conflict",
    "action_items",
    "topics",
    "sentiment",
    "roles",
)
_WORD = re.compile(r"[a-z0-9$']+")
_GROUNDING = 0.5  # an action item needs half its words in the transcript


class ReplyError(ValueError):
    """The reply holds no JSON object at all."""


@dataclass
class ModelReply:
    """What a model answered, per field; ``None``: not answered (see ``problems``)."""

    summary: str | None = None
    reason: str | None = None
    resolution: Resolution | None = None
    conflict: tuple[bool, list[int]] | None = None
    action_items: list[str] | None = None
    topics: list[str] | None = None
    sentiment: dict[int, SentimentLabel] | None = None
    roles: dict[str, Role] | None = None
    problems: dict[str, str] = field(default_factory=dict)

    def answered(self) -> list[str]:
        return [f for f in FIELDS if getattr(self, f) is not None]


def _complete_members(text: str) -> dict[str, Any] | None:
    """The top-level members of a JSON object cut off mid-way (a reply that hit the token
    limit): everything up to the last member that was complete, closed with ``}``."""
    start = text.find("{")
    if start < 0:
        return None
    depth, in_string, escaped = 0, False, False
    cuts: list[int] = []
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        elif ch == "," and depth == 1:
            cuts.append(i)
    for cut in reversed(cuts):
        try:
            value = json.loads(text[start:cut] + "}")
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def extract_json(content: str) -> dict[str, Any]:
    """The JSON object in ``content``: bare, fenced, after <think>, or cut off (partial)."""
    text = _THINK.sub("", content).strip()
    fenced = _FENCE.search(text)
    candidates = [fenced.group(1).strip()] if fenced else []
    candidates.append(text)
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    partial = _complete_members(text)
    if partial:
        log.warning("llm: the reply was cut off; kept its complete fields %s", sorted(partial))
        return partial
    raise ReplyError("the reply holds no JSON object")


# ------------------------------------------------------------------ field readers
class FieldError(ValueError):
    pass


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError(f"expected text, got {type(value).__name__}")
    text = " ".join(value.split())
    if not text:
        raise FieldError("empty")
    return text


def _indexes(value: Any, known: set[int], what: str) -> list[int]:
    values = [v for v in _as_list(value) if isinstance(v, int) and not isinstance(v, bool)]
    kept = sorted({v for v in values if v in known})
    dropped = sorted({v for v in values if v not in known})
    if dropped:
        log.warning("llm: dropped %s indexes not in the transcript: %s", what, dropped)
    return kept


def clean_strings(values: Iterable[Any]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        if not isinstance(value, str):
            continue
        text = " ".join(value.split()).strip(" .")
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    return out


def _resolution(data: dict[str, Any], _: set[int]) -> Resolution:
    word = re.sub(r"[^a-z]", "", str(data["resolution"]).lower())
    if word not in _RESOLUTIONS:
        raise FieldError(f"not one of {sorted(_RESOLUTIONS)}: {data['resolution']!r}")
    return Resolution(word)


def _conflict(data: dict[str, Any], known: set[int]) -> tuple[bool, list[int]]:
    value = data["conflict"]
    lines = data.get("conflict_lines")
    if isinstance(value, dict):  # {"detected": bool, "evidence": [...]}
        lines, value = value.get("evidence"), value.get("detected")
    if not isinstance(value, bool):
        raise FieldError(f"expected true or false, got {value!r}")
    return value, _indexes(lines, known, "conflict") if value else []


def action_item_text(item: Any) -> str | None:
    """``{"owner": "agent", "action": "email the confirmation", "due": "today"}`` ->
    ``"agent: email the confirmation today"``; a plain string is kept as it is."""
    if isinstance(item, str):
        return " ".join(item.split()) or None
    if not isinstance(item, dict):
        return None
    action = " ".join(str(item.get("action") or "").split()).rstrip(" .")
    if not action:
        return None
    owner = str(item.get("owner") or "").strip().lower()
    due = " ".join(str(item.get("due") or "").split()).rstrip(" .")
    text = action if not due or due.lower() in action.lower() else f"{action} {due}"
    return f"{owner}: {text}" if owner in _ROLES else text


def grounded(text: str, transcript_words: set[str]) -> bool:
    """Whether at least half the words of ``text`` (after its ``owner:``) were said."""
    words = _WORD.findall(text.partition(": ")[2].lower() if ": " in text else text.lower())
    return not words or sum(w in transcript_words for w in words) >= _GROUNDING * len(words)


def _action_items(data: dict[str, Any], _: set[int], said: set[str] | None = None) -> list[str]:
    items = [action_item_text(i) for i in _as_list(data["action_items"])]
    kept = clean_strings(i for i in items if i)
    if said is None:
        return kept
    dropped = [i for i in kept if not grounded(i, said)]
    if dropped:
        log.warning("llm: dropped action items the call does not say: %s", dropped)
    return [i for i in kept if i not in dropped]


def _topics(data: dict[str, Any], _: set[int]) -> list[str]:
    topics = _as_list(data["topics"]) + _as_list(data.get("other_topics"))
    cleaned = clean_strings(t.lower() for t in topics if isinstance(t, str))
    if not cleaned:
        raise FieldError("no topics")
    return cleaned[:MAX_TOPICS]


def _sentiment(data: dict[str, Any], known: set[int]) -> dict[int, SentimentLabel]:
    """``["0 neutral", "1 negative", ...]`` or ``[{"line": 1, "sentiment": "negative"}]``;
    a line the reply does not label is neutral, a line it labels twice keeps the first."""
    labels: dict[int, SentimentLabel] = {}
    for entry in _as_list(data["sentiment"]):
        line: Any
        if isinstance(entry, str):
            head, _, word = entry.strip().partition(" ")
            line = int(head) if head.lstrip("-").isdigit() else None
        elif isinstance(entry, dict):
            line, word = entry.get("line"), str(entry.get("sentiment"))
        else:
            continue
        label = word.strip().lower()
        if isinstance(line, int) and line in known and label in _SENTIMENTS:
            labels.setdefault(line, SentimentLabel(label))
    if not labels:
        raise FieldError("no line was labelled")
    return {i: labels.get(i, SentimentLabel.NEUTRAL) for i in sorted(known)}


def _roles(data: dict[str, Any], _: set[int], speakers: set[str]) -> dict[str, Role]:
    roles: dict[str, Role] = {}
    for entry in _as_list(data["speakers"]):
        if not isinstance(entry, dict):
            continue
        speaker, role = str(entry.get("speaker", "")).strip(), entry.get("role")
        if speaker in speakers and role in _ROLES:
            roles.setdefault(speaker, _ROLES[role])
    if not roles:
        raise FieldError("no known speaker was given a role")
    return roles


# field -> (the keys it needs in the reply, its reader)
_READERS: dict[str, tuple[tuple[str, ...], Callable[..., Any]]] = {
    "summary": (("summary",), lambda d, _: _text(d["summary"])),
    "reason": (("reason",), lambda d, _: _text(d["reason"])),
    "resolution": (("resolution",), _resolution),
    "conflict": (("conflict",), _conflict),
    "action_items": (("action_items",), _action_items),
    "topics": (("topics",), _topics),
    "sentiment": (("sentiment",), _sentiment),
}


def read_reply(
    data: dict[str, Any], known: set[int], speakers: set[str], transcript: str | None = None
) -> ModelReply:
    """Each field read on its own; what cannot be read is left ``None`` with the reason.
    With ``transcript``, action items whose words were mostly never said are dropped."""
    reply = ModelReply()
    readers = dict(_READERS)
    readers["roles"] = (("speakers",), lambda d, k: _roles(d, k, speakers))
    if transcript is not None:
        said = set(_WORD.findall(transcript.lower()))
        readers["action_items"] = (("action_items",), lambda d, k: _action_items(d, k, said))
    for name, (keys, reader) in readers.items():
        if not all(k in data for k in keys):
            reply.problems[name] = "missing from the reply"
            continue
        try:
            setattr(reply, name, reader(data, known))
        except (FieldError, TypeError, ValueError, KeyError) as exc:
            reply.problems[name] = f"unreadable ({exc})"
    return reply
