"""The llm stage over gRPC: ``callytics.llm.v1.CallAnalyzer`` around the local engine
(the rule-based analyzer or the OpenAI-compatible one, whichever the settings pick)."""

from __future__ import annotations

import grpc

from core.ports import CallAnalyzer
from services.grpc_server import abort_with
from shared.stubs.base import stage_info_to_proto
from shared.stubs.callytics.common.v1 import common_pb2
from shared.stubs.callytics.llm.v1 import llm_pb2, llm_pb2_grpc
from shared.stubs.llm import analysis_to_proto, conversation_from_proto


class CallAnalyzerServicer(llm_pb2_grpc.CallAnalyzerServicer):
    def __init__(self, engine: CallAnalyzer) -> None:
        self.engine = engine

    async def Info(  # gRPC method names are CamelCase
        self, request: common_pb2.InfoRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.StageInfo:
        return stage_info_to_proto(self.engine.info())

    async def Analyze(
        self, request: llm_pb2.Conversation, context: grpc.aio.ServicerContext
    ) -> llm_pb2.CallAnalysis:
        try:
            conversation = conversation_from_proto(request)  # InvalidInputError if malformed
            reply = analysis_to_proto(await self.engine.analyze(conversation))
        except Exception as exc:
            await abort_with(context, exc)
        return reply


def add_to_server(engine: CallAnalyzer, server: grpc.aio.Server) -> str:
    llm_pb2_grpc.add_CallAnalyzerServicer_to_server(CallAnalyzerServicer(engine), server)
    return "callytics.llm.v1.CallAnalyzer"
