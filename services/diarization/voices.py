"""Voice embeddings of speech stretches (CAM++): who is speaking in a live mono call.

:class:`core.ports.VoiceEmbedder` in process, over the CAM++ network the diarizer uses
(prepared weights, ``services/diarization/weights.py``). A live mono call's session embeds
each final utterance and clusters the embeddings as they come (core/live/speakers.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.domain import StageInfo
from services.diarization import weights
from services.diarization.campplus import CamPlusPlus, fbank


class CamPlusVoices:
    def __init__(self, cache_dir: Path, device: str = "cpu") -> None:
        self.cache_dir = Path(cache_dir)
        self.device = device
        self._encoder: CamPlusPlus | None = None
        self._lock = threading.Lock()

    def info(self) -> StageInfo:
        return StageInfo("local", "campplus", "CAM++ (speech_campplus_sv_zh_en_16k)", self.device)

    def _load(self) -> CamPlusPlus:
        with self._lock:
            if self._encoder is None:
                encoder = CamPlusPlus(weights.resolve(self.cache_dir).campplus, self.device)
                encoder.load()
                self._encoder = encoder
            return self._encoder

    async def load(self) -> None:
        await asyncio.to_thread(self._load)

    async def embed_voices(self, stretches: Sequence[np.ndarray]) -> np.ndarray:
        return await asyncio.to_thread(self._embed, list(stretches))

    def _embed(self, stretches: list[np.ndarray]) -> np.ndarray:
        encoder = self._load()
        feats = [fbank(s).numpy() for s in stretches]
        return encoder.embed_many(feats)
