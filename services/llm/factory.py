"""Pick the call analyzer: an OpenAI-compatible server, or the deterministic local rules."""

from __future__ import annotations

from core.ports import CallAnalyzer
from services.llm.local import LocalCallAnalyzer

PROVIDERS = ("auto", "openai", "local")


def build_call_analyzer(
    provider: str,
    api_key: str | None = None,
    base_url: str | None = None,
    model: str = "gpt-4o-mini",
    timeout: float = 60.0,
    max_retries: int = 2,
) -> CallAnalyzer:
    """``openai``: :class:`OpenAICallAnalyzer`; ``local``: :class:`LocalCallAnalyzer`;
    ``auto``: openai when a base URL or an API key is set, local otherwise."""
    choice = provider.strip().lower()
    if choice == "auto":
        choice = "openai" if (base_url or api_key) else "local"
    if choice == "local":
        return LocalCallAnalyzer()
    if choice == "openai":
        from services.llm.openai_analyzer import OpenAICallAnalyzer  # the openai SDK, on demand

        return OpenAICallAnalyzer(
            model=model,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
        )
    raise ValueError(f"unknown LLM provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
