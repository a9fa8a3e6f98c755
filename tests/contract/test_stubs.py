"""The committed gRPC code is what the committed protos generate (grpcio-tools, pinned)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.processes import ROOT


def test_generated_code_matches_the_protos():
    result = subprocess.run(
        [sys.executable, "-m", "shared.stubs.generate", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "18 generated modules match their protos" in result.stdout


def test_every_stage_has_a_versioned_package_with_a_service():
    from shared.stubs.callytics.asr.v1 import asr_pb2
    from shared.stubs.callytics.diarization.v1 import diarization_pb2
    from shared.stubs.callytics.embedding.v1 import embedding_pb2
    from shared.stubs.callytics.llm.v1 import llm_pb2
    from shared.stubs.callytics.sentiment.v1 import sentiment_pb2

    services = {
        module.DESCRIPTOR.package: list(module.DESCRIPTOR.services_by_name)
        for module in (diarization_pb2, asr_pb2, sentiment_pb2, embedding_pb2, llm_pb2)
    }
    assert services == {
        "callytics.diarization.v1": ["Diarizer"],
        "callytics.asr.v1": ["Transcriber"],
        "callytics.sentiment.v1": ["SentimentAnalyzer"],
        "callytics.embedding.v1": ["Embedder"],
        "callytics.llm.v1": ["CallAnalyzer"],
    }
