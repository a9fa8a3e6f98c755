"""A synthetic call with a card number read aloud, through the real models, with REDACT_PII:
the number is tagged in the text, silent in the stored recording and absent from search."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from core.persistence.database import Database
from core.persistence.models import CallRow
from samples import load_script, render_call

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def redacted(tmp_path_factory):
    root = tmp_path_factory.mktemp("pii")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", f"sqlite:///{root}/callytics.db")
        mp.setenv("STORAGE_DIR", str(root / "audio"))
        mp.setenv("MODEL_CACHE_DIR", str(root / "models"))
        mp.setenv("LLM_PROVIDER", "rules")
        mp.setenv("REDACT_PII", "true")
        render_call(load_script("pii"), root / "pii.wav", layout="stereo")
        out = root / "pii.json"
        # Digits are the point: the base model (tiny.en drops some of them).
        result = runner.invoke(
            app, ["analyze", str(root / "pii.wav"), "--model", "base", "--json", str(out)]
        )
        assert result.exit_code == 0, result.output
        hits = runner.invoke(app, ["search", "four five seven two one two three four", "--json"])
        assert hits.exit_code == 0, hits.output
        yield root, json.loads(out.read_text()), json.loads(hits.stdout)


def test_the_card_number_is_tagged_and_its_digits_are_gone(redacted):
    _, doc, _ = redacted
    text = " ".join(u["text"] for u in doc["utterances"])
    assert "[CARD_NUMBER]" in text, text
    assert doc["redaction"]["counts"]["CARD_NUMBER"] == 1
    for digits in ("4572", "1234", "5678", "9012", "four five seven two"):
        assert digits not in text.lower()
    # The others read aloud in the script: the agent's name, the date of birth, the phone.
    assert {"NAME", "DATE_OF_BIRTH", "PHONE_NUMBER"} <= set(doc["redaction"]["counts"]), text


def test_the_stored_recording_is_silent_where_the_card_was_read(redacted):
    root, doc, _ = redacted
    db = Database(f"sqlite:///{root}/callytics.db")
    with db.session() as session:
        path = session.get(CallRow, doc["id"]).audio_path
    db.dispose()
    assert path.endswith(".redacted.wav")
    assert [p.name for p in (root / "audio").iterdir() if p.is_file()] == [path.split("/")[-1]]
    with wave.open(path) as recording:
        rate, channels = recording.getframerate(), recording.getnchannels()
        pcm = np.frombuffer(recording.readframes(recording.getnframes()), "<i2")
    pcm = pcm.reshape(-1, channels)
    card = next(e for e in doc["redaction"]["entities"] if e["type"] == "CARD_NUMBER")
    assert card["end"] - card["start"] > 3.0  # sixteen digits take seconds to read
    assert not pcm[int(card["start"] * rate) : int(card["end"] * rate)].any()
    customer = pcm[:, 1]
    assert np.abs(customer[int((card["start"] - 3) * rate) : int(card["start"] * rate)]).max() > 0


def test_search_finds_no_trace_of_the_number(redacted):
    _, _, hits = redacted
    for hit in hits:
        assert not any(d in hit["text"] for d in ("4572", "1234", "5678", "9012")), hit
