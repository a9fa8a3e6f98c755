"""GrpcEmbedder: :class:`core.ports.Embedder` over the ``callytics.embedding.v1`` service."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
import numpy as np

from core.domain import StageInfo
from core.errors import StageError
from shared.stubs.base import GrpcStage, stage_info_from_proto
from shared.stubs.callytics.embedding.v1 import embedding_pb2, embedding_pb2_grpc

# One call carries at most this many texts: 512 x 1,024-dim vectors is 2 MB, under 4 MB.
BATCH_TEXTS = 512


def vectors_to_bytes(vectors: np.ndarray) -> bytes:
    return np.ascontiguousarray(vectors, dtype="<f4").tobytes()


def vectors_from_bytes(data: bytes, count: int, dimension: int) -> np.ndarray:
    vectors = np.frombuffer(data, dtype="<f4")
    if vectors.size != count * dimension:
        raise StageError("embedding", f"{vectors.size} floats for {count} x {dimension}")
    return vectors.astype(np.float32).reshape(count, dimension)


class GrpcEmbedder(GrpcStage):
    stage = "embedding"
    stub_class = embedding_pb2_grpc.EmbedderStub
    _dimension: int | None = None  # known once loaded (from the service, or the stand-in)

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            raise StageError("embedding", "the dimension is known once the stage is loaded")
        return self._dimension

    def _remote_info(self, reply: Any) -> StageInfo:
        self._dimension = int(reply.dimension)
        return stage_info_from_proto(reply.stage)

    def _standing_in(self, engine: Any) -> None:
        self._dimension = self._dimension or int(engine.dimension)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        await self.load()
        items = [str(t) for t in texts]
        parts = [
            await self._embed_batch(items[i : i + BATCH_TEXTS])
            for i in range(0, len(items), BATCH_TEXTS)
        ]
        if not parts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.concatenate(parts)

    async def _embed_batch(self, texts: list[str]) -> np.ndarray:
        async def attempt(channel: grpc.aio.Channel, timeout: float) -> np.ndarray:
            stub = self.stub_class(channel)
            reply = await stub.Embed(embedding_pb2.EmbedRequest(texts=texts), timeout=timeout)
            return vectors_from_bytes(reply.vectors, len(texts), int(reply.dimension))

        async def local(engine: Any) -> np.ndarray:
            return np.asarray(await engine.embed(texts), dtype=np.float32)

        return await self.channel.call(attempt, local=local)


build_client = GrpcEmbedder.from_settings  # what bootstrap/container.py calls
