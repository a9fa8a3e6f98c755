"""core.ports.Embedder: the in-process engine and the gRPC client give the same vectors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.contract.conftest import IMPLEMENTATIONS

TEXTS = ["I want my money back", "My internet keeps dropping", "Thank you for calling"]


@pytest.fixture(params=IMPLEMENTATIONS)
async def embedder(request, implementation):
    async with implementation("embedding", request.param) as engine:
        await engine.load()
        yield engine


async def test_vectors_are_normalised_rows_of_the_declared_dimension(embedder):
    vectors = await embedder.embed(TEXTS)
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, embedder.dimension) == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


async def test_same_vectors_on_both_sides(embedder, local_engines):
    expected = await local_engines("embedding").embed(TEXTS)
    assert np.allclose(await embedder.embed(TEXTS), expected, atol=1e-6)


async def test_meaning_ranks_paraphrases_first(embedder):
    query, *candidates = await embedder.embed(
        ["refund please", "give me my money back", "the weather is nice"]
    )
    assert candidates[0] @ query > candidates[1] @ query


async def test_no_texts_gives_an_empty_matrix(embedder):
    assert (await embedder.embed([])).shape == (0, 384)


async def test_many_texts_cross_the_batch_limit_in_order(embedder, local_engines):
    texts = [f"call number {i} about a refund" for i in range(600)]  # over 512 per call
    vectors = await embedder.embed(texts)
    assert vectors.shape == (600, 384)
    assert np.allclose(
        vectors[[0, 511, 512, 599]],
        await local_engines("embedding").embed([texts[0], texts[511], texts[512], texts[599]]),
        atol=1e-5,
    )


async def test_info_names_the_engine_and_the_side(embedder):
    info = embedder.info()
    assert (info.engine, info.model) == ("sentence-transformers", "all-MiniLM-L6-v2")
    assert info.backend in ("local", "grpc")
