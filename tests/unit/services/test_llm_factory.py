"""Choosing the call analyzer from the settings' values."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.settings import Settings
from core.errors import StageError
from core.ports import CallAnalyzer
from services.llm import build_call_analyzer, models
from services.llm.llama import LlamaCallAnalyzer
from services.llm.openai_analyzer import OpenAICallAnalyzer
from services.llm.rules_analyzer import LocalCallAnalyzer


@pytest.mark.parametrize("provider", ["rules", "local"])  # local: the old name of rules
def test_rules(provider: str) -> None:
    analyzer = build_call_analyzer(provider, None, None, "gpt-4o-mini", 60.0, 2)
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
    ("api_key", "base_url", "model_dir", "expected"),
    [
        (None, None, "empty", LocalCallAnalyzer),
        (None, None, "installed", LlamaCallAnalyzer),
        ("sk-x", None, "installed", OpenAICallAnalyzer),
        (None, "http://127.0.0.1:9/v1", "installed", OpenAICallAnalyzer),
    ],
)
def test_auto_prefers_a_configured_server_then_the_local_model_then_rules(
    api_key: str | None, base_url: str | None, model_dir: str, expected: type, tmp_path: Path
) -> None:
    gguf = tmp_path / "model.gguf"  # a path names a local model; "empty" names none
    if model_dir == "installed":
        gguf.write_bytes(b"GGUF")
    analyzer = build_call_analyzer(
        "auto", api_key, base_url, "m", 1.0, 0, local_model=str(gguf), cache_dir=tmp_path
    )
    assert isinstance(analyzer, expected)


def test_auto_without_llama_cpp_is_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(models, "runtime_installed", lambda: False)
    analyzer = build_call_analyzer("auto", None, None, "m", 1.0, 0, local_model=str(gguf))
    assert isinstance(analyzer, LocalCallAnalyzer)


def test_settings_name_what_auto_picks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    assert Settings(llm_provider="auto", llm_local_model=str(gguf)).llm_choice == "rules"
    gguf.write_bytes(b"GGUF")
    assert Settings(llm_provider="auto", llm_local_model=str(gguf)).llm_choice == "llama"
    assert (
        Settings(llm_provider="auto", llm_local_model=str(gguf), openai_base_url="http://x/v1")
    ).llm_choice == "openai"
    assert Settings(llm_provider="local").llm_choice == "rules"
    assert Settings(llm_provider="llama").llm_choice == "llama"


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
    assert "LLM_PROVIDER=rules" in caught.value.hint


def test_qa_is_judged_by_the_model_only_when_qa_is_among_the_fields() -> None:
    from bootstrap.container import _qa_scorer

    server = {"llm_provider": "openai", "openai_base_url": "http://127.0.0.1:9/v1"}
    assert _qa_scorer(Settings(**server, llm_fields="summary")).llm is None
    assert _qa_scorer(Settings(**server, llm_fields="summary,qa")).llm is not None
    assert _qa_scorer(Settings(llm_provider="rules", llm_fields="qa")).llm is None
