"""Call analysis by any OpenAI-compatible chat server (OpenAI, vLLM, llama.cpp, Ollama).

The transcript goes out as numbered lines with a strict JSON schema as ``response_format``;
a server that rejects ``json_schema`` (HTTP 400/422) is asked once more with ``json_object``,
and the analyzer remembers to use ``json_object`` from then on. Transport retries and the
timeout are the ``openai`` client's own. Every failure becomes ``StageError("llm", ...)``.
"""

from __future__ import annotations

import logging
from typing import Any

import openai
from openai import AsyncOpenAI

from core.domain import CallAnalysis, Conversation, Resolution, StageInfo
from core.errors import StageError
from services.llm.parsing import ReplyError, parse_reply, to_analysis
from services.llm.prompt import JSON_OBJECT_FORMAT, JSON_SCHEMA_FORMAT, build_messages

log = logging.getLogger(__name__)

STAGE = "llm"
# Local servers (vLLM, llama.cpp, Ollama) accept any key; the client insists on one.
PLACEHOLDER_KEY = "not-needed"
DEFAULT_MAX_TRANSCRIPT_CHARS = 60_000
_SNIPPET = 200


def _snippet(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _SNIPPET else flat[:_SNIPPET] + "…"


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
            "Set OPENAI_API_KEY or OPENAI_BASE_URL, or LLM_PROVIDER=local.",
        ) from exc


class OpenAICallAnalyzer:
    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        temperature: float | None = 0.0,
        max_transcript_chars: int = DEFAULT_MAX_TRANSCRIPT_CHARS,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.temperature = temperature
        self.max_transcript_chars = max_transcript_chars
        self._api_key = api_key
        self._client: AsyncOpenAI | None = None
        self._schema_supported = True

    @property
    def provider(self) -> str:
        return f"openai:{self.model}"

    def info(self) -> StageInfo:
        return StageInfo(
            backend="local",
            engine="openai",
            model=self.model,
            device="remote",
            extra={"base_url": self.base_url or "https://api.openai.com/v1"},
        )

    async def load(self) -> None:
        """Build the client (no network); fails here when no API key can be found."""
        self._get_client()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _get_client(self) -> AsyncOpenAI:
        if self._client is None:
            self._client = openai_client(
                self._api_key, self.base_url, self.timeout, self.max_retries
            )
        return self._client

    async def analyze(self, conversation: Conversation) -> CallAnalysis:
        utterances = [u for u in conversation.utterances if u.text.strip()]
        if not utterances:
            return CallAnalysis(
                summary="The call has no transcribed speech.",
                topics=[],
                reason="",
                resolution=Resolution.UNKNOWN,
                conflict_detected=False,
                conflict_evidence=[],
                profanity=[],
                action_items=[],
                provider=self.provider,
            )
        messages = build_messages(conversation, utterances, self.max_transcript_chars)
        content = await self._complete(messages)
        try:
            reply = parse_reply(content)
        except ReplyError as exc:
            raise StageError(
                STAGE,
                f"{self.provider} did not return a call analysis: {exc}. "
                f"The reply began: {_snippet(content)!r}",
                "Use a model that follows JSON instructions, or set LLM_PROVIDER=local.",
            ) from exc
        return to_analysis(reply, {u.index for u in utterances}, self.provider)

    async def _complete(self, messages: list[dict[str, str]]) -> str:
        """The reply's text, trying json_schema then json_object."""
        formats = [JSON_SCHEMA_FORMAT, JSON_OBJECT_FORMAT]
        if not self._schema_supported:
            formats = [JSON_OBJECT_FORMAT]
        for fmt in formats:
            try:
                response = await self._request(messages, fmt)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if fmt is JSON_SCHEMA_FORMAT:
                    log.warning(
                        "llm: %s rejected json_schema (%s); retrying with json_object",
                        self.provider,
                        _snippet(exc.message),
                    )
                    continue
                raise self._error(exc) from exc
            except openai.OpenAIError as exc:
                raise self._error(exc) from exc
            if fmt is JSON_OBJECT_FORMAT and self._schema_supported:
                self._schema_supported = False
            return self._content(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _request(self, messages: list[dict[str, str]], fmt: dict[str, Any]) -> Any:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "response_format": fmt}
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        return await self._get_client().chat.completions.create(**kwargs)

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
            raise StageError(STAGE, f"{self.provider} refused to analyse the call: {refusal}")
        content = getattr(message, "content", None)
        if not isinstance(content, str) or not content.strip():
            cut = getattr(choice, "finish_reason", None) == "length"
            raise StageError(
                STAGE,
                f"{self.provider} sent an empty reply"
                + (" (cut off at the token limit)" if cut else ""),
            )
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
                "Raise LLM_TIMEOUT_S, use a smaller model, or set LLM_PROVIDER=local.",
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
