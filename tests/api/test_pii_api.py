"""PII redaction through the API: the tags, the silenced recording, and where the digits
do not go (the database, search, the cache, the LLM, the other stages)."""

from __future__ import annotations

import wave
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select

from core.persistence.models import CacheEntryRow, CallRow, UtteranceRow
from tests.api.conftest import follow_job, runtime_of
from tests.api.test_rest import AGENT_TEXT, search_hits
from tests.support.app import make_settings, wav_bytes
from tests.unit.fakes import FakeCallAnalyzer, FakeEmbedder, FakeTranscriber, words_of

CARD = "4572 1234 5678 9012"
SAID = f"sure my card number is {CARD} thanks"
DIGITS = ("4572", "1234", "5678", "9012")


class SeeingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += texts
        return await super().embed(texts)


class SeeingAnalyzer(FakeCallAnalyzer):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    async def analyze(self, conversation: Any) -> Any:
        self.texts += [u.text for u in conversation.utterances]
        return await super().analyze(conversation)


def analysed(client: Any, **form: str) -> dict[str, Any]:
    # The same tone each time, a new analysis each time (not a duplicate): force.
    response = client.post(
        "/v1/calls",
        files={"file": ("call.wav", wav_bytes(12), "audio/wav")},
        data={"force": "true", **form},
    )
    assert response.status_code == 202, response.text
    assert follow_job(client, response.json()["job_id"])[-1].status == "succeeded"
    return client.get(f"/v1/calls/{response.json()['call_id']}").json()


def engines() -> dict[str, Any]:
    words = words_of(AGENT_TEXT, 0.2) + words_of(SAID, 4.6)
    return {
        "transcriber": FakeTranscriber(words),
        "embedder": SeeingEmbedder(),
        "analyzer": SeeingAnalyzer(),
    }


def test_a_card_number_is_tagged_silenced_and_kept_out_of_everything(make_client):
    used = engines()
    client = make_client(**used)
    doc = analysed(client, redact_pii="true")

    customer = doc["utterances"][1]
    assert customer["text"] == "sure my card number is [CARD_NUMBER] thanks"
    tag = next(w for w in customer["words"] if w["word"] == "[CARD_NUMBER]")
    said = words_of(SAID, 4.6)
    assert (tag["start"], tag["end"]) == (said[5].start, said[8].end)
    assert doc["redaction"]["counts"] == {"CARD_NUMBER": 1}
    assert doc["redaction"]["entities"][0]["type"] == "CARD_NUMBER"

    # Nowhere: not in the document, the rows, the cache, search, or what the stages saw.
    runtime = runtime_of(client)
    with runtime.database.session() as session:
        stored = [
            str(session.get(CallRow, doc["id"]).document),
            *[u.text + str(u.words) for u in session.scalars(select(UtteranceRow))],
            *[bytes(e.value).decode("latin-1") for e in session.scalars(select(CacheEntryRow))],
        ]
    seen = used["embedder"].texts + used["analyzer"].texts
    for digits in DIGITS:
        assert digits not in str(doc)
        assert not any(digits in text for text in stored + seen)
    hits = search_hits(client, CARD, k=20)
    assert not any(digit in h["text"] for h in hits for digit in DIGITS)

    # The stored recording is the redacted one: silent over the card, sound elsewhere.
    path, _ = runtime.catalog.audio(doc["id"])
    assert path.name == f"{doc['id']}.redacted.wav"
    assert sorted(p.name for p in path.parent.iterdir() if p.is_file()) == [path.name]
    with wave.open(str(path)) as recording:
        rate = recording.getframerate()
        pcm = np.frombuffer(recording.readframes(recording.getnframes()), "<i2")
        pcm = pcm.reshape(-1, recording.getnchannels())
    start, end = int(tag["start"] * rate), int(tag["end"] * rate)
    assert not pcm[start:end].any()
    assert np.abs(pcm[: int(1.0 * rate)]).max() > 1000
    assert np.abs(pcm[end + rate : end + 2 * rate]).max() > 1000
    download = client.get(f"/v1/calls/{doc['id']}/audio")
    assert download.status_code == 200 and download.content[:4] == b"RIFF"


def test_without_redaction_the_words_stay_and_the_original_recording_is_kept(make_client):
    client = make_client(**engines())
    doc = analysed(client)
    assert CARD in doc["utterances"][1]["text"] and "redaction" not in doc
    path, _ = runtime_of(client).catalog.audio(doc["id"])
    assert path.name == f"{doc['id']}.wav"


def test_redact_pii_on_by_default_and_off_for_one_call(make_client, tmp_path):
    client = make_client(make_settings(tmp_path, redact_pii=True), **engines())
    assert "[CARD_NUMBER]" in analysed(client)["utterances"][1]["text"]
    assert CARD in analysed(client, redact_pii="false")["utterances"][1]["text"]


def test_graphql_uploads_can_ask_for_redaction(make_client):
    import json

    client = make_client(**engines())
    query = (
        "mutation($file: Upload!) { analyzeCall(file: $file, options: {redactPii: true}) "
        "{ callId jobId } }"
    )
    response = client.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": query, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": ("call.wav", wav_bytes(12), "audio/wav")},
    )
    payload = response.json()["data"]["analyzeCall"]
    follow_job(client, payload["jobId"])
    read = "query($id: ID!) { call(id: $id) { redaction utterances { text } } }"
    call = client.post("/graphql", json={"query": read, "variables": {"id": payload["callId"]}})
    body = call.json()["data"]["call"]
    assert "[CARD_NUMBER]" in body["utterances"][1]["text"] and "4572" not in str(body)
    assert body["redaction"]["counts"] == {"CARD_NUMBER": 1}
