"""QA scorecards judged by an OpenAI-compatible chat server (core/qa.py falls back to its
rules when this fails). The reply names, for each checklist item, the transcript line that
shows it, or null."""

from __future__ import annotations

import json
import re
from typing import Any

from core.qa import Scorecard, numbered_transcript
from services.llm.openai_analyzer import openai_client

SYSTEM = (
    "You review customer-service calls against a QA scorecard. For each checklist item, "
    "give the number of the transcript line in which the agent does what the item asks, "
    'or null if the agent never does. Reply with JSON only: {"items": {"<item id>": '
    "<line number or null>, ...}}."
)


class OpenAIQAJudge:
    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        self.model = model
        self._client = openai_client(api_key, base_url, timeout, max_retries)

    async def judge(self, scorecard: Scorecard, document: dict[str, Any]) -> dict[str, int | None]:
        response = await self._client.chat.completions.create(
            model=self.model,
            temperature=0.0,
            response_format={"type": "json_object"},
            messages=[
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": numbered_transcript(document, scorecard.items)},
            ],
        )
        content = response.choices[0].message.content or ""
        match = re.search(r"\{.*\}", content, flags=re.S)
        if match is None:
            raise ValueError(f"no JSON in the reply: {content[:120]!r}")
        items = json.loads(match.group(0)).get("items")
        if not isinstance(items, dict):
            raise ValueError("the reply has no items object")
        lines = {u["index"] for u in document.get("utterances") or []}
        evidence: dict[str, int | None] = {}
        for item in scorecard.items:
            value = items.get(item.id)
            evidence[item.id] = value if isinstance(value, int) and value in lines else None
        return evidence
