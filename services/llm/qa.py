"""QA scorecards judged by a model: an OpenAI-compatible server or the local model
(core/analysis/qa.py falls back to its rules when this fails).

The transcript goes out as the analyzer sends it (the same system message and transcript
first, so that llama.cpp reuses the prompt it already read for the analysis); the task
lists the checklist, and the reply names, for each item, the agent line that shows it and
the words in it that do. The evidence is checked before it counts: the line must exist, be
the agent's, fall in the item's time window and contain the quoted words. Evidence that
fails a check is replaced by the rules' evidence for that item.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import openai

from core.analysis.document import utterance_dict
from core.analysis.qa import Item, Scorecard, rule_evidence
from core.domain import Conversation, Role, Utterance
from services.llm.llama import LlamaRuntime
from services.llm.openai_analyzer import ChatClient, format_rejected, openai_client
from services.llm.parsing import extract_json
from services.llm.prompt import SYSTEM_PROMPT, schema_formats, transcript_prefix

log = logging.getLogger(__name__)

MAX_CHARS = 20_000
MIN_QUOTE_CHARS = 3


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w']+", " ", text.lower()).split())


def document_of(conversation: Conversation, conflict: bool = False) -> dict[str, Any]:
    """The part of a result document a QA judge reads, for a conversation scored outside
    the pipeline (bench/llm.py, tests)."""
    return {
        "audio": {"duration_s": conversation.duration_s},
        "language": conversation.language,
        "utterances": [utterance_dict(u) for u in conversation.utterances],
        "analysis": {"conflict": {"detected": conflict}},
    }


def _utterances(document: dict[str, Any]) -> list[Utterance]:
    roles = {r.value: r for r in Role}
    return [
        Utterance(
            index=int(u["index"]),
            speaker=str(u.get("speaker", "")),
            start=float(u.get("start") or 0.0),
            end=float(u.get("end") or 0.0),
            text=str(u.get("text") or ""),
            words=[],
            role=roles.get(str(u.get("role")), Role.UNKNOWN),
        )
        for u in document.get("utterances") or []
        if str(u.get("text") or "").strip()
    ]


def qa_schema(items: tuple[Item, ...]) -> dict[str, Any]:
    evidence = {
        "type": "object",
        "properties": {
            "line": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "quote": {"type": "string", "maxLength": 160},
        },
        "required": ["line", "quote"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {item.id: evidence for item in items},
        "required": [item.id for item in items],
        "additionalProperties": False,
    }


def qa_messages(scorecard: Scorecard, document: dict[str, Any]) -> list[dict[str, str]]:
    utterances = _utterances(document)
    conversation = Conversation(
        utterances,
        [],
        str(document.get("language") or ""),
        float((document.get("audio") or {}).get("duration_s") or 0.0),
    )
    prefix = transcript_prefix(conversation, utterances, MAX_CHARS)
    checklist = "\n".join(f"- {i.id}: {i.name}. {i.description}" for i in scorecard.items)
    task = (
        "Review the AGENT against this QA checklist. For each item give the number of the "
        "agent's line that shows it (line) and the exact words of that line that show it "
        '(quote), or null and "" if the agent never does it.\n' + checklist
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"{prefix}\n\nTask:\n{task}"},
    ]


def supported(item: Item, line: Any, quote: Any, document: dict[str, Any]) -> bool:
    """Whether the model's evidence for ``item`` holds: an agent line in the item's time
    window whose text contains the quoted words."""
    if not isinstance(line, int) or isinstance(line, bool):
        return False
    utterance = next((u for u in document.get("utterances") or [] if u["index"] == line), None)
    if utterance is None or utterance.get("role") != Role.AGENT.value:
        return False
    duration = float((document.get("audio") or {}).get("duration_s") or 0.0)
    if item.within_first_s is not None and utterance["start"] > item.within_first_s:
        return False
    if item.within_last_s is not None and utterance["end"] < duration - item.within_last_s:
        return False
    words = _normal(str(quote or ""))
    return len(words) >= MIN_QUOTE_CHARS and words in _normal(utterance["text"])


def checked_evidence(
    scorecard: Scorecard, reply: dict[str, Any], document: dict[str, Any]
) -> dict[str, int | None]:
    """Each item's evidence: the model's where it holds, ``None`` where the model says the
    agent never did it, the rules' where the model's evidence does not hold."""
    evidence: dict[str, int | None] = {}
    for item in scorecard.items:
        answer = reply.get(item.id)
        if isinstance(answer, int) and not isinstance(answer, bool):  # {"id": line} replies
            answer = {"line": answer, "quote": None}
        if not isinstance(answer, dict):
            evidence[item.id] = rule_evidence(item, document)
            continue
        line, quote = answer.get("line"), answer.get("quote")
        if line is None:
            evidence[item.id] = None
        elif supported(
            item, line, quote if quote is not None else _line_text(line, document), document
        ):
            evidence[item.id] = int(line)
        else:
            log.warning("qa: the model's evidence for %s (line %r) does not hold", item.id, line)
            evidence[item.id] = rule_evidence(item, document)
    return evidence


def _line_text(line: Any, document: dict[str, Any]) -> str:
    for u in document.get("utterances") or []:
        if u["index"] == line:
            return str(u["text"])
    return ""


class ModelQAJudge:
    """Asks a model (through an openai-style client) to judge the checklist."""

    def __init__(self, model: str, *, first_format: int = 0) -> None:
        self.model = model
        self.first_format = first_format  # llama.cpp: 1, json_object with a schema

    async def client(self) -> ChatClient:
        raise NotImplementedError

    async def judge(self, scorecard: Scorecard, document: dict[str, Any]) -> dict[str, int | None]:
        client = await self.client()
        messages = qa_messages(scorecard, document)
        formats = schema_formats(qa_schema(scorecard.items), "qa")[self.first_format :]
        for n, fmt in enumerate(formats):  # best first, as the analyzer does
            try:
                response = await client.chat.completions.create(
                    model=self.model,
                    temperature=0.0,
                    max_tokens=1024,
                    response_format=fmt,
                    messages=messages,
                )
                break
            except openai.APIStatusError as exc:
                if not format_rejected(exc) or n + 1 == len(formats):
                    raise
        content = response.choices[0].message.content or ""
        reply = extract_json(content)  # ReplyError (a ValueError): QAScorer uses the rules
        items = reply.get("items", reply)  # {"items": {...}} from servers that wrap it
        if not isinstance(items, dict):
            raise ValueError("the reply has no checklist items")
        return checked_evidence(scorecard, items, document)


class OpenAIQAJudge(ModelQAJudge):
    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        super().__init__(model)
        self._client: ChatClient = openai_client(api_key, base_url, timeout, max_retries)

    async def client(self) -> ChatClient:
        return self._client


class LlamaQAJudge(ModelQAJudge):
    """The judge on the local model (the runtime the analyzer shares)."""

    def __init__(self, runtime: LlamaRuntime) -> None:
        super().__init__(runtime.name, first_format=1)
        self.runtime = runtime
        self._client: ChatClient | None = None

    async def client(self) -> ChatClient:
        client = self._client
        if client is None:
            client = await self.runtime.client()
            self._client = client
        return client
