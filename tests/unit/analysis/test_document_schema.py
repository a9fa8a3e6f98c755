"""The one call-document model (core/analysis/schema.py): what the pipeline stores reads
back unchanged, and a document stored by an earlier version, without the keys added since,
still reads (as it did before the model existed)."""

from __future__ import annotations

import copy
import json

from core.analysis.document import build_document
from core.analysis.schema import read_stored
from core.persistence.models import utcnow
from tests.unit.analysis.test_pipeline import make_pipeline
from tests.unit.fakes import silent_audio


async def stored_document() -> dict:
    result = await make_pipeline().run(silent_audio(10))
    # as the database gives it back: JSON, no Python types
    return json.loads(json.dumps(build_document("id-1", "call.wav", utcnow(), result)))


async def test_a_stored_document_reads_back_as_it_was_written():
    doc = await stored_document()
    read = read_stored(doc).model_dump(mode="json")
    assert read["speakers"] == doc["speakers"]
    assert read["utterances"] == doc["utterances"]
    assert read["metrics"] == doc["metrics"]
    assert read["analysis"] == doc["analysis"]


async def test_a_document_without_the_keys_added_since_still_reads():
    doc = await stored_document()
    old = copy.deepcopy(doc)
    for key in ("status", "language"):
        del old[key]
    for s in old["speakers"]:
        for key in ("channel", "words_per_minute", "sentiment_mean", "loudness_dbfs"):
            s.pop(key, None)
    for u in old["utterances"]:
        del u["role"]
        del u["sentiment"]
        for w in u["words"]:
            del w["probability"]
    for key in (
        "interruption_utterances",
        "sentiment_by_quarter",
        "agent_talk_ratio",
        "customer_sentiment_trend",
    ):
        old["metrics"].pop(key, None)
    for key in ("sources", "model", "action_items", "conflict", "resolution"):
        old["analysis"].pop(key, None)
    before = copy.deepcopy(old)

    read = read_stored(old)

    assert old == before  # the stored dict is not changed
    assert (read.status, read.language) == ("succeeded", "")
    assert read.speakers[0].loudness_dbfs is None and read.speakers[0].channel is None
    assert read.utterances[0].role.value == "unknown"
    assert read.utterances[0].sentiment is None
    assert read.utterances[0].words[0].probability is None
    assert read.metrics.interruption_utterances == []
    assert read.metrics.sentiment_by_quarter == {}
    assert read.analysis is not None
    assert read.analysis.resolution.value == "unknown"
    assert (read.analysis.conflict.detected, read.analysis.conflict.evidence) == (False, [])
    assert read.analysis.sources == {} and read.analysis.action_items == []
    assert read.analysis.summary == doc["analysis"]["summary"]
