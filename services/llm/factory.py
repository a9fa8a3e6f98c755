"""Pick the call analyzer: an OpenAI-compatible server, the local model, or the rules."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.ports import CallAnalyzer
from services.llm.rules_analyzer import LocalCallAnalyzer

PROVIDERS = ("auto", "openai", "llama", "rules", "local")


def choose_provider(
    provider: str, api_key: str | None, base_url: str | None, local_model: str, cache_dir: Path
) -> str:
    """``openai``, ``llama`` or ``rules``: what ``provider`` names (``local`` is the old name
    of rules), or for ``auto`` the first of a configured server, the installed local model,
    the rules. An unknown name is returned as it is, for the caller to refuse."""
    choice = provider.strip().lower()
    if choice == "local":
        return "rules"
    if choice != "auto":
        return choice
    if base_url or api_key:
        return "openai"
    from services.llm.models import local_model_available

    return "llama" if local_model_available(local_model, cache_dir) else "rules"


def build_call_analyzer(
    provider: str,
    api_key: str | None = None,
    base_url: str | None = None,
    model: str = "gpt-4o-mini",
    timeout: float = 60.0,
    max_retries: int = 2,
    *,
    fields: Iterable[str] | str | None = None,
    local_model: str = "qwen2.5-coder-1.5b-instruct-q4_k_m",
    cache_dir: Path | None = None,
    runtime: str = "server",
    n_ctx: int = 8192,
    n_threads: int = 0,
    local_timeout: float = 1800.0,
) -> CallAnalyzer:
    """``openai``: :class:`OpenAICallAnalyzer`; ``llama``: :class:`LlamaCallAnalyzer` (the
    local model); ``rules`` (or ``local``): :class:`LocalCallAnalyzer`; ``auto``: openai when
    a base URL or an API key is set, else llama when the local model is installed, else
    rules."""
    cache = cache_dir or Path("~/.cache/callytics/models").expanduser()
    choice = choose_provider(provider, api_key, base_url, local_model, cache)
    if choice == "rules":
        return LocalCallAnalyzer()
    if choice == "openai":
        from services.llm.openai_analyzer import OpenAICallAnalyzer  # the openai SDK, on demand

        return OpenAICallAnalyzer(
            model=model,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            fields=fields,
        )
    if choice == "llama":
        from services.llm.llama import LlamaCallAnalyzer, shared_runtime

        runtime_ = shared_runtime(
            local_model,
            cache,
            runtime=runtime,
            n_ctx=n_ctx,
            n_threads=n_threads,
            timeout=local_timeout,
        )
        return LlamaCallAnalyzer(runtime_, fields=fields)
    raise ValueError(f"unknown LLM provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
