"""Choosing the call analyzer from the settings' values."""

from __future__ import annotations

import pytest

from core.errors import StageError
from core.ports import CallAnalyzer
from services.llm import build_call_analyzer
from services.llm.local import LocalCallAnalyzer
from services.llm.openai_analyzer import OpenAICallAnalyzer


def test_local() -> None:
    analyzer = build_call_analyzer("local", None, None, "gpt-4o-mini", 60.0, 2)
    assert isinstance(analyzer, LocalCallAnalyzer)
    assert analyzer.info().engine == "rules"


def test_openai_passes_its_settings() -> None:
    analyzer = build_call_analyzer("openai", "sk-x", "http://127.0.0.1:9/v1", "m-1", 12.5, 4)
    assert isinstance(analyzer, OpenAICallAnalyzer)
    assert isinstance(analyzer, CallAnalyzer)
    assert analyzer.provider == "openai:m-1"
    assert (analyzer.base_url, analyzer.timeout, analyzer.max_retries) == (
        "http://127.0.0.1:9/v1",
        12.5,
        4,
    )
    info = analyzer.info()
    assert (info.backend, info.engine, info.model) == ("local", "openai", "m-1")


@pytest.mark.parametrize(
    ("api_key", "base_url", "expected"),
    [
        (None, None, LocalCallAnalyzer),
        ("sk-x", None, OpenAICallAnalyzer),
        (None, "http://127.0.0.1:9/v1", OpenAICallAnalyzer),
    ],
)
def test_auto_uses_openai_only_when_configured(
    api_key: str | None, base_url: str | None, expected: type
) -> None:
    assert isinstance(build_call_analyzer("auto", api_key, base_url, "m", 1.0, 0), expected)


def test_unknown_provider_is_refused() -> None:
    with pytest.raises(ValueError, match="anthropic"):
        build_call_analyzer("anthropic", None, None, "m", 1.0, 0)


async def test_openai_without_key_or_url_fails_at_load_with_a_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    analyzer = build_call_analyzer("openai", None, None, "m", 1.0, 0)
    with pytest.raises(StageError, match="llm: cannot set up") as caught:
        await analyzer.load()
    assert "LLM_PROVIDER=local" in caught.value.hint
