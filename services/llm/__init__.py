"""The llm stage: call analysis by an OpenAI-compatible server or by deterministic rules."""

from services.llm.factory import build_call_analyzer

__all__ = ["build_call_analyzer"]
