"""The sentiment stage over gRPC: ``callytics.sentiment.v1.SentimentAnalyzer`` around the
local engine."""

from __future__ import annotations

import grpc

from core.errors import StageError
from core.ports import SentimentAnalyzer
from services.grpc_server import abort_with
from shared.stubs.base import stage_info_to_proto
from shared.stubs.callytics.common.v1 import common_pb2
from shared.stubs.callytics.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc
from shared.stubs.sentiment import STAGE, sentiment_to_proto


class SentimentAnalyzerServicer(sentiment_pb2_grpc.SentimentAnalyzerServicer):
    def __init__(self, engine: SentimentAnalyzer) -> None:
        self.engine = engine

    async def Info(  # gRPC method names are CamelCase
        self, request: common_pb2.InfoRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.StageInfo:
        return stage_info_to_proto(self.engine.info())

    async def Analyze(
        self, request: sentiment_pb2.AnalyzeRequest, context: grpc.aio.ServicerContext
    ) -> sentiment_pb2.AnalyzeResponse:
        texts = list(request.texts)
        try:
            sentiments = await self.engine.analyze(texts)
            if len(sentiments) != len(texts):
                raise StageError(STAGE, f"{len(sentiments)} results for {len(texts)} texts")
            reply = sentiment_pb2.AnalyzeResponse(
                sentiments=[sentiment_to_proto(s) for s in sentiments]
            )
        except Exception as exc:
            await abort_with(context, exc)
        return reply


def add_to_server(engine: SentimentAnalyzer, server: grpc.aio.Server) -> str:
    sentiment_pb2_grpc.add_SentimentAnalyzerServicer_to_server(
        SentimentAnalyzerServicer(engine), server
    )
    return "callytics.sentiment.v1.SentimentAnalyzer"
