"""GrpcSentimentAnalyzer: :class:`core.ports.SentimentAnalyzer` over ``callytics.sentiment.v1``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from core.domain import Sentiment, SentimentLabel
from core.errors import InvalidInputError, StageError
from shared.stubs.base import GrpcStage
from shared.stubs.callytics.sentiment.v1 import sentiment_pb2, sentiment_pb2_grpc

STAGE = "sentiment"
# One call carries at most this many texts (utterances are short: well under 4 MB).
BATCH_TEXTS = 2_000


def sentiment_to_proto(sentiment: Sentiment) -> sentiment_pb2.Sentiment:
    return sentiment_pb2.Sentiment(label=str(sentiment.label), score=float(sentiment.score))


def sentiment_from_proto(message: sentiment_pb2.Sentiment) -> Sentiment:
    try:
        label = SentimentLabel(message.label)
    except ValueError:
        raise StageError(STAGE, f"the service sent an unknown label {message.label!r}") from None
    return Sentiment(label, float(message.score))


def check_texts(texts: Sequence[str]) -> None:
    """Protobuf strings are UTF-8: a text that cannot be encoded is the caller's error."""
    for i, text in enumerate(texts):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInputError(
                f"Text {i} cannot be sent to the {STAGE} service: {exc}.",
                "Texts must be valid Unicode (no lone surrogates).",
            ) from None


class GrpcSentimentAnalyzer(GrpcStage):
    stage = STAGE
    stub_class = sentiment_pb2_grpc.SentimentAnalyzerStub

    async def analyze(self, texts: Sequence[str]) -> list[Sentiment]:
        items = [str(t) for t in texts]
        check_texts(items)  # bad input fails before the network
        await self.load()
        out: list[Sentiment] = []
        for i in range(0, len(items), BATCH_TEXTS):
            out.extend(await self._analyze_batch(items[i : i + BATCH_TEXTS]))
        return out

    async def _analyze_batch(self, texts: list[str]) -> list[Sentiment]:
        async def attempt(channel: grpc.aio.Channel, timeout: float) -> list[Sentiment]:
            stub = self.stub_class(channel)
            reply = await stub.Analyze(sentiment_pb2.AnalyzeRequest(texts=texts), timeout=timeout)
            if len(reply.sentiments) != len(texts):
                raise StageError(
                    STAGE,
                    f"the service sent {len(reply.sentiments)} results for {len(texts)} texts",
                )
            return [sentiment_from_proto(s) for s in reply.sentiments]

        async def local(engine: Any) -> list[Sentiment]:
            return list(await engine.analyze(texts))

        return await self.channel.call(attempt, local=local)


build_client = GrpcSentimentAnalyzer.from_settings  # what bootstrap/container.py calls
