"""Diarization stage: who spoke when (in-process engine in ``local.py``)."""

from services.diarization.local import LocalDiarizer

__all__ = ["LocalDiarizer"]
