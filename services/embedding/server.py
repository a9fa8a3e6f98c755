"""The embedding stage over gRPC: ``callytics.embedding.v1.Embedder`` around the local engine."""

from __future__ import annotations

import grpc

from core.ports import Embedder
from services.grpc_server import abort_with
from shared.stubs.base import stage_info_to_proto
from shared.stubs.callytics.common.v1 import common_pb2
from shared.stubs.callytics.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from shared.stubs.embedding import vectors_to_bytes


class EmbedderServicer(embedding_pb2_grpc.EmbedderServicer):
    def __init__(self, engine: Embedder) -> None:
        self.engine = engine

    async def Info(
        self, request: common_pb2.InfoRequest, context: grpc.aio.ServicerContext
    ) -> embedding_pb2.EmbedderInfo:
        return embedding_pb2.EmbedderInfo(
            stage=stage_info_to_proto(self.engine.info()), dimension=self.engine.dimension
        )

    async def Embed(
        self, request: embedding_pb2.EmbedRequest, context: grpc.aio.ServicerContext
    ) -> embedding_pb2.EmbedResponse:
        try:
            vectors = await self.engine.embed(list(request.texts))
        except Exception as exc:
            await abort_with(context, exc)
        return embedding_pb2.EmbedResponse(
            dimension=self.engine.dimension, vectors=vectors_to_bytes(vectors)
        )


def add_to_server(engine: Embedder, server: grpc.aio.Server) -> str:
    embedding_pb2_grpc.add_EmbedderServicer_to_server(EmbedderServicer(engine), server)
    return "callytics.embedding.v1.Embedder"
