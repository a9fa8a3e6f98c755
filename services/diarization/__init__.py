"""Diarization stage: who spoke when (in-process engine in ``local.py``).

``LocalDiarizer`` is imported on first use, so that ``python -m
services.diarization.weights`` (and the other runnable modules) start without the engine
having imported them first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.diarization.local import LocalDiarizer

__all__ = ["LocalDiarizer"]


def __getattr__(name: str) -> Any:
    if name == "LocalDiarizer":
        from services.diarization.local import LocalDiarizer

        return LocalDiarizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
