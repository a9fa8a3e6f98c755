"""What the OpenAI-compatible analyzer sends: the JSON schema, the instructions, the transcript."""

from __future__ import annotations

from typing import Any

from core.domain import Conversation, Resolution, Utterance

RESOLUTIONS = [r.value for r in Resolution]

ANALYSIS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "topics": {"type": "array", "items": {"type": "string"}},
        "reason": {"type": "string"},
        "resolution": {"type": "string", "enum": RESOLUTIONS},
        "conflict": {
            "type": "object",
            "properties": {
                "detected": {"type": "boolean"},
                "evidence": {"type": "array", "items": {"type": "integer"}},
            },
            "required": ["detected", "evidence"],
            "additionalProperties": False,
        },
        "profanity": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "utterance": {"type": "integer"},
                    "words": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["utterance", "words"],
                "additionalProperties": False,
            },
        },
        "action_items": {"type": "array", "items": {"type": "string"}},
    },
    "required": [
        "summary",
        "topics",
        "reason",
        "resolution",
        "conflict",
        "profanity",
        "action_items",
    ],
    "additionalProperties": False,
}

JSON_SCHEMA_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "call_analysis", "strict": True, "schema": ANALYSIS_SCHEMA},
}
JSON_OBJECT_FORMAT: dict[str, Any] = {"type": "json_object"}

SYSTEM_PROMPT = """\
You analyse recorded customer-service phone calls.
The user sends the transcript, one utterance per line: "[index] ROLE (speaker): text", where
ROLE is AGENT, CUSTOMER or UNKNOWN and index identifies the utterance.
Reply with one JSON object and nothing else, with exactly these keys:
- "summary": 2 to 4 sentences: the customer's request or problem, what the agent did, the outcome.
- "topics": 1 to 5 short topic phrases (1 to 3 words each, lower case), e.g. "billing", "refund".
- "reason": the customer's reason for calling, in one sentence.
- "resolution": "resolved", "unresolved" or "unknown" (whether the customer's need was met).
- "conflict": {"detected": true or false, "evidence": [indexes of the utterances that show \
hostility, anger, insults or demands to escalate]}.
- "profanity": [{"utterance": index, "words": [the profane words as written]}], [] if none.
- "action_items": follow-ups promised or requested in the call, each a short phrase, [] if none.
Use only utterance indexes that appear in the transcript. Base everything on the transcript \
alone; do not invent facts. Write in the language of the transcript."""

_OMITTED = "[…] ({n} utterances omitted)"


def utterance_line(u: Utterance) -> str:
    text = " ".join(u.text.split())
    return f"[{u.index}] {u.role.value.upper()} ({u.speaker}): {text}"


def render_transcript(utterances: list[Utterance], max_chars: int) -> str:
    """Numbered lines; past ``max_chars`` the middle is dropped, keeping the start and the end."""
    lines = [utterance_line(u) for u in utterances]
    if sum(len(line) + 1 for line in lines) <= max_chars:
        return "\n".join(lines)
    head: list[str] = []
    tail: list[str] = []
    budget = max_chars - len(_OMITTED.format(n=len(lines))) - 1
    lo, hi = 0, len(lines) - 1
    while lo <= hi:
        take_head = len(head) <= len(tail)
        line = lines[lo] if take_head else lines[hi]
        if len(line) + 1 > budget:
            break
        budget -= len(line) + 1
        if take_head:
            head.append(line)
            lo += 1
        else:
            tail.append(line)
            hi -= 1
    omitted = len(lines) - len(head) - len(tail)
    return "\n".join([*head, _OMITTED.format(n=omitted), *reversed(tail)])


def build_messages(
    conversation: Conversation, utterances: list[Utterance], max_chars: int
) -> list[dict[str, str]]:
    header = (
        f"Language: {conversation.language or 'unknown'}. "
        f"Duration: {conversation.duration_s:.0f} s. Utterances: {len(utterances)}."
    )
    transcript = render_transcript(utterances, max_chars)
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"{header}\n\nTranscript:\n{transcript}"},
    ]
