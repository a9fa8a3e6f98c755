"""What a model is sent: the transcript once, then one short task per group of fields.

Written for a small model (Qwen2.5 1.5B on 2 cores). Asked for everything in one reply, it
labelled every line of the demo call neutral and found no action item; asked one focused
question at a time, it labelled 9 of 11 lines right and found the email confirmation. So a
call is analysed as a few requests that share one prefix (the same system message and the
transcript first in the user message): a server that keeps its prompt cache (llama.cpp
does) reads the transcript once, and each task costs only its own question and answer.

Every task has a JSON schema, which a llama.cpp server turns into a grammar (the reply is
valid JSON of that shape); the per-call schemas pin the sentiment list to one entry per line
and the speaker list to the call's speakers, so that the model only chooses the labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.analysis.languages import is_english, language_name
from core.domain import Conversation, Resolution, Utterance
from services.llm import lexicon as lx

PROMPT_VERSION = "3"  # part of the analysis cache key: a new prompt is a new analysis
RESOLUTIONS = [r.value for r in Resolution]
TAXONOMY = list(lx.TOPIC_LEXICON)
SENTIMENTS = ["neutral", "positive", "negative"]
MAX_ACTION_ITEMS = 5
MAX_TOPICS = 3
MAX_OTHER_TOPICS = 2

SYSTEM_PROMPT = """\
You read the transcript of a customer-service phone call and answer one task about it \
in JSON. Each line is "[n] ROLE (speaker): text", where n is the line number and ROLE is \
AGENT (works for the company), CUSTOMER (the caller, or the person the company called) or \
UNKNOWN. Base every answer on the transcript alone; do not invent anything. Write text in \
the language of the transcript."""

_ROLE: dict[str, Any] = {"type": "string", "enum": ["agent", "customer"]}
_LINES: dict[str, Any] = {"type": "array", "items": {"type": "integer"}}


def _string(max_length: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _speakers_schema(speakers: list[str] | None) -> dict[str, Any]:
    if speakers is None:
        return {"type": "array", "items": _object({"speaker": {"type": "string"}, "role": _ROLE})}
    items = [_object({"speaker": {"const": s}, "role": _ROLE}) for s in speakers]
    return {"type": "array", "prefixItems": items}


def _sentiment_schema(lines: list[int] | None) -> dict[str, Any]:
    if lines is None:
        item = _object(
            {"line": {"type": "integer"}, "sentiment": {"type": "string", "enum": SENTIMENTS}}
        )
        return {"type": "array", "items": item}
    items = [{"type": "string", "enum": [f"{i} {label}" for label in SENTIMENTS]} for i in lines]
    return {"type": "array", "prefixItems": items}


@dataclass(frozen=True)
class Task:
    """One question about the call: its instructions, the fields it answers, its schema."""

    name: str
    fields: tuple[str, ...]
    instructions: str

    def schema(self, lines: list[int] | None, speakers: list[str] | None) -> dict[str, Any]:
        """``lines``/``speakers`` given: the per-call schema for grammar-constrained servers;
        ``None``: the same shape within OpenAI's strict subset (no per-position items)."""
        if self.name == "facts":
            return _object(
                {
                    "reason": _string(240),
                    "speakers": _speakers_schema(speakers),
                    "resolution": {"type": "string", "enum": RESOLUTIONS},
                    "conflict": {"type": "boolean"},
                    "conflict_lines": _LINES,
                }
            )
        if self.name == "action_items":
            item = _object({"owner": _ROLE, "action": _string(120), "due": _string(40)})
            return _object(
                {"action_items": {"type": "array", "maxItems": MAX_ACTION_ITEMS, "items": item}}
            )
        if self.name == "sentiment":
            return _object({"sentiment": _sentiment_schema(lines)})
        if self.name == "summary":
            return _object(
                {
                    "summary": _string(600),
                    "topics": {
                        "type": "array",
                        "maxItems": MAX_TOPICS,
                        "items": {"type": "string", "enum": TAXONOMY},
                    },
                    "other_topics": {
                        "type": "array",
                        "maxItems": MAX_OTHER_TOPICS,
                        "items": _string(40),
                    },
                }
            )
        if self.name == "merge":
            return _object({"summary": _string(600)})
        raise ValueError(f"unknown task {self.name!r}")


FACTS = Task(
    "facts",
    ("reason", "roles", "resolution", "conflict"),
    """\
reason: why the customer called: the problem or request, one sentence beginning \
"The customer". Not how the call ended.
speakers: each speaker with "agent" or "customer". A supervisor, a colleague or a second \
agent who joins the call is "agent".
resolution: "resolved" if the customer got what they needed, or a definite fix, refund, \
replacement or appointment was given or promised; "unresolved" if it was refused, is still \
broken or pending, or the customer stays unhappy; "unknown" only if the call does not say.
conflict: true only if someone is hostile: anger, insults, threats, swearing at someone, \
demanding a manager. conflict_lines: the numbers of those lines, else [].""",
)
ACTION_ITEMS = Task(
    "action_items",
    ("action_items",),
    """\
List what someone promised or was asked to do AFTER the call (send, email, call back, ship, \
refund, visit, check). owner: "agent" or "customer"; action: a short verb phrase with its \
object; due: when ("today", "within 5 business days") or "". Not things already done during \
the call, not questions. Example: the agent says "I'll post the new cable to you by Friday" \
-> {"owner": "agent", "action": "post the new cable", "due": "by Friday"}.""",
)
SENTIMENT = Task(
    "sentiment",
    ("sentiment",),
    """\
sentiment: for every line, in order, how its speaker feels in that line: "negative" \
(upset, complaining, frustrated, worried, angry), "positive" (pleased, relieved, warmly \
thankful) or "neutral" (plain questions, answers, procedure, polite routine).""",
)
SUMMARY = Task(
    "summary",
    ("summary", "topics"),
    f"""\
summary: the call in 2 or 3 sentences: who called and why, what the agent did, how it \
ended. Name every amount of money (as "$40"), date, product and plan that matters. Nothing \
that the transcript does not say.
topics: 1 to {MAX_TOPICS} from: {", ".join(TAXONOMY)}. other_topics: 0 to \
{MAX_OTHER_TOPICS} short lower-case phrases for what that list lacks.""",
)
TASKS = (FACTS, ACTION_ITEMS, SENTIMENT, SUMMARY)
MERGE = Task(
    "merge",
    ("summary",),
    """\
The lines below are the summaries of consecutive parts of one call. summary: the whole call \
in 2 or 3 sentences: who called and why, what the agent did, how it ended. Keep amounts, \
dates and names exactly as given; add nothing else.""",
)


def tasks_for(fields: frozenset[str]) -> list[Task]:
    """The tasks that answer at least one of ``fields``."""
    return [t for t in TASKS if fields.intersection(t.fields)]


def utterance_line(u: Utterance) -> str:
    text = " ".join(u.text.split())
    return f"[{u.index}] {u.role.value.upper()} ({u.speaker}): {text}"


def chunk_utterances(utterances: list[Utterance], max_chars: int) -> list[list[Utterance]]:
    """Consecutive runs of whole utterances, each at most ``max_chars`` of transcript (an
    utterance longer than that alone is a chunk of its own, cut when rendered)."""
    chunks: list[list[Utterance]] = []
    current: list[Utterance] = []
    size = 0
    for u in utterances:
        length = len(utterance_line(u)) + 1
        if current and size + length > max_chars:
            chunks.append(current)
            current, size = [], 0
        current.append(u)
        size += length
    if current:
        chunks.append(current)
    return chunks


def render_transcript(utterances: list[Utterance], max_chars: int) -> str:
    return "\n".join(utterance_line(u)[:max_chars] for u in utterances)


def transcript_prefix(
    conversation: Conversation,
    utterances: list[Utterance],
    max_chars: int,
    part: int = 1,
    parts: int = 1,
) -> str:
    """The start of every task's user message: the same text for every task of a call.
    A call in another language than English is answered in it: the summary, the reason and
    the action items are for the people who handle that call (the topics stay the fixed
    English labels, which the insights count across calls)."""
    header = (
        f"Language: {conversation.language or 'unknown'}. "
        f"Duration: {conversation.duration_s:.0f} s. Lines: {len(utterances)}."
    )
    if not is_english(conversation.language):
        name = language_name(conversation.language)
        header += (
            f" The call is in {name}: write the summary, the reason and the actions in "
            f"{name} (where a task shows English wording, say the same in {name})."
        )
    if parts > 1:
        header += f" This is part {part} of {parts} of a long call: answer for this part."
    return f"{header}\n\nTranscript:\n{render_transcript(utterances, max_chars)}"


def task_messages(prefix: str, task: Task) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"{prefix}\n\nTask:\n{task.instructions}"},
    ]


def merge_messages(summaries: list[str]) -> list[dict[str, str]]:
    parts = "\n".join(f"Part {i}: {s}" for i, s in enumerate(summaries, 1))
    return task_messages(f"Summaries:\n{parts}", MERGE)


def schema_formats(schema: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The ``response_format`` values to try, best first: OpenAI's ``json_schema`` (OpenAI,
    vLLM), ``json_object`` with a ``schema`` (llama-cpp-python, which makes it a grammar),
    then bare ``json_object``."""
    return [
        {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}},
        {"type": "json_object", "schema": schema},
        {"type": "json_object"},
    ]
