"""The analyzer against a real model: llama.cpp serving Qwen2.5-Coder 0.5B (the plumbing
model; bench/llm.py measures the 1.5B default) as a child server, in-process, and as a
plain OpenAI-compatible server that the unchanged OpenAI analyzer talks to.

These assert plumbing, not judgement: what comes back is well formed, each field says
whether the model or the rules answered it, a reply the model cuts off degrades field by
field to the rules with a warning, and nothing fails the call.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from core.analysis.qa import DEFAULT_SCORECARD, QAScorer
from core.domain import CallAnalysis, Resolution, Role, SentimentLabel
from services.llm.llama import LlamaCallAnalyzer, LlamaRuntime
from services.llm.models import QWEN_0_5B, assemble, runtime_installed
from services.llm.parsing import FIELDS
from services.llm.qa import LlamaQAJudge, document_of
from tests.support import scripts
from tests.support.conversations import make_conversation
from tests.support.processes import LineReader, child_env, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not runtime_installed(), reason="llama-cpp-python is not installed"),
]

MODEL = QWEN_0_5B.name


class ServerLog(LineReader):
    name = "llama_cpp.server"


BILLING = make_conversation(scripts.UNRESOLVED_BILLING)
INDEXES = {u.index for u in BILLING.utterances}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache with the 0.5B assembled from its part wheels (sha256 checked)."""
    folder = tmp_path_factory.mktemp("models")
    assemble(QWEN_0_5B, folder)
    return folder


@pytest.fixture(scope="module")
def served(cache_dir: Path) -> Iterator[str]:
    """``python -m llama_cpp.server`` on a loopback port, as a user would start it."""
    port = free_port()
    gguf = cache_dir / "llm" / QWEN_0_5B.filename
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf)]
    command += ["--model_alias", MODEL, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_ctx", "4096", "--n_threads", "2"]
    with subprocess.Popen(
        command, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            ServerLog(process.stderr).wait_for("Uvicorn running on", timeout=120)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            process.terminate()
            process.wait(timeout=30)


def assert_well_formed(result: CallAnalysis, asked: frozenset[str] = frozenset(FIELDS)) -> None:
    assert result.summary and result.reason
    assert isinstance(result.resolution, Resolution)
    assert set(result.conflict_evidence) <= INDEXES
    assert set(result.sources) == {*FIELDS, "profanity"}
    assert set(result.sources.values()) <= {"model", "rules"}
    for name, source in result.sources.items():  # a field asked but answered by rules: why
        if source == "rules" and name in asked:
            assert any(w.startswith(f"llm: {name} by rules") for w in result.warnings)
    if result.utterance_sentiment is not None:
        assert set(result.utterance_sentiment) == INDEXES
        assert set(result.utterance_sentiment.values()) <= set(SentimentLabel)
    if result.speaker_roles is not None:
        assert set(result.speaker_roles) <= {"S1", "S2"}
        assert set(result.speaker_roles.values()) <= {Role.AGENT, Role.CUSTOMER}


@pytest.fixture
async def runtime(cache_dir: Path) -> AsyncIterator[LlamaRuntime]:
    llama = LlamaRuntime(MODEL, cache_dir, runtime="server", n_ctx=4096, n_threads=2)
    yield llama
    llama.stop()


async def test_the_local_model_as_a_child_server_answers_every_field_and_judges_qa(
    runtime: LlamaRuntime,
) -> None:
    analyzer = LlamaCallAnalyzer(runtime, fields="all")
    await analyzer.load()
    assert runtime.base_url is None  # load finds the file; the server starts on first use
    judge = LlamaQAJudge(runtime)  # the QA judge shares the server (and its prompt cache)
    try:
        result = await analyzer.analyze(BILLING)
        assert runtime.base_url is not None
        models = httpx.get(f"{runtime.base_url}/models", timeout=5).json()
        assert [m["id"] for m in models["data"]] == [MODEL]
        scored = await QAScorer(DEFAULT_SCORECARD, llm=judge).score(document_of(BILLING, True))
    finally:
        await runtime.release()  # the judge's client
        await analyzer.aclose()
    assert runtime.base_url is not None
    with pytest.raises(httpx.ConnectError):  # the last client closed: the child is gone
        httpx.get(f"{runtime.base_url}/models", timeout=5)
    assert result.provider == f"llama:{MODEL}" and result.model == MODEL
    assert_well_formed(result)
    info = analyzer.info()
    assert (info.engine, info.model, info.extra["runtime"]) == ("llama.cpp", MODEL, "server")
    assert scored["method"] == "llm"
    agent_lines = {u.index for u in BILLING.utterances if u.role == Role.AGENT}
    assert {i["id"] for i in scored["items"]} == {i.id for i in DEFAULT_SCORECARD.items}
    for item in scored["items"]:  # only agent lines count as evidence, whatever it cited
        if item["evidence"] is not None:
            assert item["evidence"]["utterance"] in agent_lines
