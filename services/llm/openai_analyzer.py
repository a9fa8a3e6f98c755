"""Call analysis by a model behind any OpenAI-compatible chat server (OpenAI, vLLM,
llama.cpp's server, Ollama) or llama.cpp in-process (:mod:`services.llm.llama`).

The transcript goes out once per call as the shared start of a few focused tasks
(:mod:`services.llm.prompt`); each task's reply is read field by field
(:mod:`services.llm.parsing`). The fields the model is trusted with (``fields``: those where
bench/llm.py found it better than the rules) come from it; every other field, and any field
whose reply was malformed or cut off, comes from the rules, and ``sources`` and
``warnings`` say so. Response formats are tried best first (``json_schema``, then
``json_object`` with a schema, then bare ``json_object``) and the one that worked is
remembered. Transport retries and the timeout are the ``openai`` client's own; a server
that cannot be reached, refuses or fails is ``StageError("llm", ...)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Protocol

import openai
from openai import AsyncOpenAI

from core.analysis.languages import is_english
from core.domain import CallAnalysis, Conversation, StageInfo, Utterance
from core.errors import StageError
from services.llm.parsing import (
    FIELDS,
    ModelReply,
    ReplyError,
    clean_strings,
    extract_json,
    read_reply,
)
from services.llm.prompt import (
    MERGE,
    PROMPT_VERSION,
    Task,
    chunk_utterances,
    merge_messages,
    schema_formats,
    task_messages,
    tasks_for,
    transcript_prefix,
)
from services.llm.rules_analyzer import analyze_conversation, unavailable_warnings

log = logging.getLogger(__name__)

STAGE = "llm"
# Local servers (vLLM, llama.cpp, Ollama) accept any key; the client insists on one.
PLACEHOLDER_KEY = "not-needed"
# About 5,000 tokens of transcript per chunk (a 30-minute call is one chunk).
DEFAULT_MAX_CHUNK_CHARS = 20_000
DEFAULT_MAX_TOKENS = 1024
# The fields a model answers unless LLM_FIELDS says otherwise: those where bench/llm.py
# found the local model better than the rules (bench/RESULTS.md, "Analysis by field").
# "qa" is the QA scorecard: judged by the model when it is among them (core/analysis/qa.py).
CHOOSABLE = (*FIELDS, "qa")
# Measured on 64 held-out calls (bench/RESULTS.md, 2026-12-02): the 1.5B model beat the
# rules on reason (recall 0.94 vs 0.44), summary key facts (0.68 vs 0.40, fewer
# hallucinations), roles (0.99 vs 0.94) and QA items (0.875 vs 0.857); it lost on action
# items, resolution, conflict and sentiment, which stay on rules. Topics: not measured.
DEFAULT_FIELDS = frozenset({"reason", "summary", "roles", "qa"})
_SNIPPET = 200


class ChatClient(Protocol):
    """What the analyzer needs of ``AsyncOpenAI``: ``client.chat.completions.create``."""

    @property
    def chat(self) -> Any: ...

    async def close(self) -> None: ...


def _snippet(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _SNIPPET else flat[:_SNIPPET] + "…"


def parse_fields(value: str | Iterable[str] | None) -> frozenset[str]:
    """``LLM_FIELDS``: "all", "none", or a comma list of :data:`CHOOSABLE`."""
    if value is None:
        return DEFAULT_FIELDS
    names = value.split(",") if isinstance(value, str) else list(value)
    chosen = {n.strip().lower() for n in names if n.strip()}
    if chosen == {"all"}:
        return frozenset(CHOOSABLE)
    if chosen in ({"none"}, set()):
        return frozenset()
    unknown = chosen - set(CHOOSABLE)
    if unknown:
        raise ValueError(
            f"unknown LLM field(s) {', '.join(sorted(unknown))}; "
            f"expected all, none or some of {', '.join(CHOOSABLE)}"
        )
    return frozenset(chosen)


def openai_client(
    api_key: str | None, base_url: str | None, timeout: float, max_retries: int
) -> AsyncOpenAI:
    """The client of an OpenAI-compatible server (a local one needs no key)."""
    try:
        return AsyncOpenAI(
            api_key=api_key or (PLACEHOLDER_KEY if base_url else None),
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
        )
    except openai.OpenAIError as exc:
        raise StageError(
            STAGE,
            f"cannot set up the OpenAI client: {exc}",
            "Set OPENAI_API_KEY or OPENAI_BASE_URL, or LLM_PROVIDER=rules.",
        ) from exc


def format_rejected(exc: openai.APIStatusError) -> bool:
    """Whether the server refused the response_format: a 400/422 from most servers;
    llama-cpp-python's server answers an unknown format type with a 500 that names it."""
    if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
        return True
    return exc.status_code == 500 and "response_format" in str(exc.message)


def merge_chunks(replies: list[ModelReply]) -> ModelReply:
    """One reply for a call analysed in parts: the reason from the first part that gives
    one, the outcome from the last, everything else pooled (the summary is merged apart)."""
    merged = ModelReply()
    for reply in replies:
        merged.reason = merged.reason or reply.reason
        if reply.resolution is not None:
            merged.resolution = reply.resolution
        if reply.conflict is not None:
            detected = reply.conflict[0] or bool(merged.conflict and merged.conflict[0])
            lines = sorted({*(merged.conflict[1] if merged.conflict else []), *reply.conflict[1]})
            merged.conflict = (detected, lines if detected else [])
        if reply.action_items is not None:
            merged.action_items = clean_strings([*(merged.action_items or []), *reply.action_items])
        if reply.sentiment is not None:
            merged.sentiment = {**(merged.sentiment or {}), **reply.sentiment}
        if reply.roles is not None:
            merged.roles = {**reply.roles, **(merged.roles or {})}
        for name, problem in reply.problems.items():
            merged.problems.setdefault(name, problem)
    topics = Counter(t for r in replies for t in (r.topics or []))
    merged.topics = [t for t, _ in topics.most_common(5)] or None
    return merged


class OpenAICallAnalyzer:
    engine = "openai"
    provider_prefix = "openai"

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        temperature: float | None = 0.0,
        fields: Iterable[str] | None = None,
        max_chunk_chars: int = DEFAULT_MAX_CHUNK_CHARS,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.temperature = temperature
        self.fields = parse_fields(fields)
        self.max_chunk_chars = max_chunk_chars
        self.max_tokens = max_tokens
        self._api_key = api_key
        self._client: ChatClient | None = None
        self._format: str | None = None  # the response_format type that worked

    @property
    def provider(self) -> str:
        return f"{self.provider_prefix}:{self.model}"

    def info(self) -> StageInfo:
        return StageInfo(
            backend="local",
            engine=self.engine,
            model=self.model,
            device="remote",
            extra={
                "base_url": self.base_url or "https://api.openai.com/v1",
                "fields": ",".join(sorted(self.fields)),
                "prompt": PROMPT_VERSION,
            },
        )

    async def load(self) -> None:
        """Build the client (no network); fails here when no API key can be found."""
        await self._get_client()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _get_client(self) -> ChatClient:
        client = self._client
        if client is None:
            client = openai_client(self._api_key, self.base_url, self.timeout, self.max_retries)
            self._client = client
        return client

    def fields_for(self, conversation: Conversation) -> frozenset[str]:
        """The fields the model answers for this call: ``fields`` (LLM_FIELDS) in English;
        in another language every field (sentiment included) that LLM_FIELDS does not turn
        off wholesale, since the rules that answer the others read English only."""
        if not self.fields or is_english(conversation.language):
            return self.fields
        return self.fields | frozenset(FIELDS)

    async def analyze(self, conversation: Conversation) -> CallAnalysis:
        rules = await asyncio.to_thread(analyze_conversation, conversation)
        utterances = [u for u in conversation.utterances if u.text.strip()]
        fields = self.fields_for(conversation)
        if not utterances or not fields:
            return replace(rules, provider=self.provider, model=self.model)
        reply = await self.read(conversation, utterances, fields)
        return self.combine(rules, reply, fields)

    def combine(
        self, rules: CallAnalysis, reply: ModelReply, fields: frozenset[str] | None = None
    ) -> CallAnalysis:
        """The model's answer where it is trusted and readable, the rules' elsewhere."""
        fields = self.fields if fields is None else fields
        values: dict[str, Any] = {}
        warnings: list[str] = []
        sources: dict[str, str] = {"profanity": rules.sources.get("profanity", "rules")}
        for name in FIELDS:
            value = getattr(reply, name)
            if name in fields and value is not None:
                values[name] = value
                sources[name] = "model"
                continue
            sources[name] = rules.sources.get(name, "rules")
            if name in fields:
                problem = reply.problems.get(name, "not answered")
                warnings.append(f"llm: {name} by {sources[name]}: the model's answer was {problem}")
        for warning in warnings:
            log.warning("%s (%s)", warning, self.provider)
        conflict = values.get("conflict", (rules.conflict_detected, rules.conflict_evidence))
        return CallAnalysis(
            summary=values.get("summary", rules.summary),
            topics=values.get("topics", rules.topics),
            reason=values.get("reason", rules.reason),
            resolution=values.get("resolution", rules.resolution),
            conflict_detected=conflict[0],
            conflict_evidence=conflict[1],
            profanity=rules.profanity,
            action_items=values.get("action_items", rules.action_items),
            provider=self.provider,
            model=self.model,
            sources=sources,
            utterance_sentiment=values.get("sentiment"),
            speaker_roles=values.get("roles"),
            warnings=[*warnings, *unavailable_warnings(sources)],
        )

    async def read(
        self,
        conversation: Conversation,
        utterances: list[Utterance],
        fields: frozenset[str] | None = None,
    ) -> ModelReply:
        """Every task on every chunk of the call; the chunks' answers merged."""
        fields = self.fields if fields is None else fields
        chunks = chunk_utterances(utterances, self.max_chunk_chars)
        replies = []
        for part, chunk in enumerate(chunks, 1):
            prefix = transcript_prefix(
                conversation, chunk, self.max_chunk_chars, part=part, parts=len(chunks)
            )
            replies.append(await self._read_chunk(prefix, chunk, fields))
        if len(replies) == 1:
            return replies[0]
        merged = merge_chunks(replies)
        summaries = [r.summary for r in replies if r.summary]
        if "summary" in fields and summaries:
            data = await self._ask(merge_messages(summaries), MERGE, None, None)
            merged.summary = None
            if data is not None and isinstance(data.get("summary"), str):
                merged.summary = " ".join(data["summary"].split()) or None
            if merged.summary is None:
                merged.problems["summary"] = "unreadable (merging the parts' summaries)"
        return merged

    async def _read_chunk(
        self, prefix: str, chunk: list[Utterance], fields: frozenset[str]
    ) -> ModelReply:
        lines = [u.index for u in chunk]
        speakers = sorted({u.speaker for u in chunk})
        data: dict[str, Any] = {}
        failed: dict[str, str] = {}
        for task in tasks_for(fields):
            answer = await self._ask(task_messages(prefix, task), task, lines, speakers)
            if answer is None:
                failed.update(dict.fromkeys(task.fields, "malformed or cut off"))
            else:
                data.update(answer)
        transcript = " ".join(u.text for u in chunk)
        reply = read_reply(data, set(lines), set(speakers), transcript)
        for name, problem in failed.items():
            reply.problems[name] = problem
        return reply

    async def _ask(
        self,
        messages: list[dict[str, str]],
        task: Task,
        lines: list[int] | None,
        speakers: list[str] | None,
    ) -> dict[str, Any] | None:
        """One task's reply as a dict; None (and a warning) when it holds no JSON object."""
        formats = schema_formats(task.schema(None, None), task.name)
        formats[1] = {"type": "json_object", "schema": task.schema(lines, speakers)}
        if self._format is not None:
            formats = [f for f in formats if self._format_key(f) == self._format]
        content = await self._complete(messages, formats)
        try:
            return extract_json(content)
        except ReplyError as exc:
            log.warning(
                "llm: %s sent no usable reply to the %s task (%s); it began: %r",
                self.provider,
                task.name,
                exc,
                _snippet(content),
            )
            return None

    @staticmethod
    def _format_key(fmt: dict[str, Any]) -> str:
        return fmt["type"] + ("+schema" if "schema" in fmt else "")

    async def _complete(self, messages: list[dict[str, str]], formats: list[dict[str, Any]]) -> str:
        """The reply's text, trying each response format until the server accepts one."""
        for n, fmt in enumerate(formats):
            try:
                response = await self._request(messages, fmt)
            except openai.APIStatusError as exc:
                if format_rejected(exc) and n + 1 < len(formats):
                    log.warning(
                        "llm: %s rejected response_format %s (%s); trying %s",
                        self.provider,
                        self._format_key(fmt),
                        _snippet(exc.message),
                        self._format_key(formats[n + 1]),
                    )
                    continue
                raise self._error(exc) from exc
            except openai.OpenAIError as exc:
                raise self._error(exc) from exc
            self._format = self._format_key(fmt)
            return self._content(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _request(self, messages: list[dict[str, str]], fmt: dict[str, Any]) -> Any:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "response_format": fmt}
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens
        client = await self._get_client()
        return await client.chat.completions.create(**kwargs)

    def _content(self, response: Any) -> str:
        choices = getattr(response, "choices", None)
        if not choices:
            raise StageError(
                STAGE, f"{self.provider} sent a reply without choices: {_snippet(response)!r}"
            )
        choice = choices[0]
        message = getattr(choice, "message", None)
        refusal = getattr(message, "refusal", None)
        if refusal:
            log.warning("llm: %s refused the task: %s", self.provider, _snippet(refusal))
            return ""
        content = getattr(message, "content", None)
        if not isinstance(content, str) or not content.strip():
            cut = getattr(choice, "finish_reason", None) == "length"
            log.warning(
                "llm: %s sent an empty reply%s",
                self.provider,
                " (cut off at the token limit)" if cut else "",
            )
            return ""
        usage = getattr(response, "usage", None)
        if usage is not None:
            log.debug("llm: %s used %s", self.provider, usage)
        return content

    def _error(self, exc: openai.OpenAIError) -> StageError:
        where = self.base_url or "api.openai.com"
        n = self.max_retries
        tries = f"after {n} {'retry' if n == 1 else 'retries'}" if n else "(no retries)"
        if isinstance(exc, openai.APITimeoutError):
            return StageError(
                STAGE,
                f"{where} did not answer within {self.timeout:g} s {tries}",
                "Raise LLM_TIMEOUT_S, use a smaller model, or set LLM_PROVIDER=rules.",
            )
        if isinstance(exc, openai.APIConnectionError):
            return StageError(
                STAGE,
                f"cannot reach {where} {tries}: {exc}",
                "Check OPENAI_BASE_URL and that the server is running.",
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return StageError(
                STAGE,
                f"{where} refused the API key: {_snippet(exc.message)}",
                "Check OPENAI_API_KEY.",
            )
        if isinstance(exc, openai.NotFoundError):
            return StageError(
                STAGE,
                f"{where} does not serve model {self.model!r}: {_snippet(exc.message)}",
                "Check LLM_MODEL against the server's /v1/models.",
            )
        if isinstance(exc, openai.APIStatusError):
            retried = f" {tries}" if exc.status_code >= 500 or exc.status_code == 429 else ""
            return StageError(
                STAGE,
                f"{where} answered HTTP {exc.status_code}{retried}: {_snippet(exc.message)}",
            )
        return StageError(STAGE, f"the request to {where} failed: {_snippet(exc)}")
