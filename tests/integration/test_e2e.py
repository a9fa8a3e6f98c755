"""`callytics analyze` end to end, on real models, on calls synthesised with known turns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.cli import app
from core.persistence.database import Database
from core.persistence.models import CallRow, JobRow, UtteranceRow
from samples import load_script, render_call
from tests.integration.asr_support import wer
from tests.support.measure import bounded

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", f"sqlite:///{root}/callytics.db")
        mp.setenv("STORAGE_DIR", str(root / "audio"))
        mp.setenv("MODEL_CACHE_DIR", str(root / "models"))
        mp.setenv("ASR_MODEL", "tiny.en")
        mp.setenv("LLM_PROVIDER", "rules")
        yield root


def analyze(workdir: Path, *args: str) -> tuple[int, str, object]:
    out = workdir / f"out-{len(list(workdir.glob('out-*')))}.json"
    result = runner.invoke(app, ["analyze", *args, "--json", str(out), "--no-report"])
    doc = json.loads(out.read_text()) if out.exists() else None
    return result.exit_code, result.output, doc


def table_counts(workdir: Path) -> dict[str, int]:
    db = Database(f"sqlite:///{workdir}/callytics.db")
    with db.session() as s:
        counts = {
            t.__tablename__: s.scalar(select(func.count()).select_from(t))
            for t in (CallRow, UtteranceRow, JobRow)
        }
    db.dispose()
    return counts


@pytest.fixture(scope="module")
def angry_stereo(workdir):
    """The escalation call as a call centre records it: 8 kHz mu-law, agent on channel 0."""
    truth = render_call(load_script("angry"), workdir / "angry.wav", layout="stereo", mulaw=True)
    # Accuracy is the point here, so the base model: tiny.en drops the last words of an
    # agent turn under crosstalk, and with them one of the planted interruptions.
    code, output, doc = analyze(workdir, str(workdir / "angry.wav"), "--model", "base")
    assert code == 0, output
    return truth, doc


@pytest.fixture(scope="module")
def angry_mono(workdir):
    """The escalation call recorded on one channel: both planted interruptions are overlap
    only an overlap-aware diarizer hears (Whisper writes one voice at a time)."""
    truth = render_call(load_script("angry"), workdir / "angry-mono.wav", layout="mono")
    code, output, doc = analyze(workdir, str(workdir / "angry-mono.wav"), "--model", "base")
    assert code == 0, output
    return truth, doc


@pytest.fixture(scope="module")
def demo_mono(workdir):
    truth = render_call(load_script("demo"), workdir / "demo.mp3")
    code, output, doc = analyze(workdir, str(workdir / "demo.mp3"))
    assert code == 0, output
    return truth, doc


def test_dual_channel_call_every_field_true(angry_stereo):
    truth, doc = angry_stereo
    assert doc["status"] == "succeeded" and doc["language"] == "en"
    assert doc["audio"] == {
        "duration_s": pytest.approx(truth.duration, abs=0.2),
        "sample_rate": 8000,
        "channels": 2,
        "codec": "pcm_mulaw",
    }
    speakers = {s["id"]: s for s in doc["speakers"]}
    assert {(s["role"], s["channel"]) for s in speakers.values()} == {("agent", 0), ("customer", 1)}
    for s in speakers.values():
        assert s["talk_time_s"] > 10 and 0 < s["talk_ratio"] < 1
        bounded(f"{s['role']} words per minute", s["words_per_minute"], above=80, below=260)
        assert s["sentiment_mean"] is not None and s["loudness_dbfs"] < 0
    # the transcript: by role, close to what was said
    said = " ".join(t.text for t in truth.turns if t.role == "customer")
    heard = " ".join(u["text"] for u in doc["utterances"] if u["role"] == "customer")
    # Measured 0.165-0.226 over five float paths (bench/RESULTS.md, `python -m bench
    # spread`) and 0.261 on another CI machine: Whisper's decoding of this 8 kHz call moves
    # with the CPU's kernels. A pipeline that loses customer turns scores above 0.5.
    bounded("customer WER, 8 kHz mu-law, base", wer(said, heard), below=0.35)
    # the two planted interruptions, both by the customer. Found: 2 on the five float paths
    # of bench/RESULTS.md's spread table, 1 on the 2026-12-02 CI machine (Whisper there drops
    # the words that overlap one of them): at least one, never a made-up third.
    customer = next(s for s in doc["speakers"] if s["role"] == "customer")
    bounded("customer interruptions (2 planted)", customer["interruptions"], above=0.5, below=2.5)
    assert doc["metrics"]["interruptions"] == customer["interruptions"]
    bounded("overlap seconds", doc["metrics"]["overlap_s"], above=1.5)
    # the customer is angry
    assert customer["sentiment_mean"] < 0
    negative = [
        u
        for u in doc["utterances"]
        if u["role"] == "customer" and u["sentiment"]["label"] == "negative"
    ]
    bounded("negative customer utterances", len(negative), above=3.5)
    analysis = doc["analysis"]
    assert analysis["provider"] == "rules"
    assert analysis["conflict"]["detected"] and analysis["conflict"]["evidence"]
    assert analysis["resolution"] == "unresolved"
    assert {w.lower() for p in analysis["profanity"] for w in p["words"]} & {"hell", "damn"}
    assert analysis["summary"] and analysis["topics"] and analysis["reason"]
    assert set(doc["stages"]) >= {"diarization", "asr", "sentiment", "embedding", "llm"}
    assert doc["stages"]["diarization"]["method"] == "channel"
    assert doc["stages"]["asr"]["model"] == "base"
    assert doc["warnings"] == []


def test_mono_call_interruptions_are_counted_and_named(angry_mono):
    truth, doc = angry_mono
    assert doc["stages"]["diarization"]["method"] == "segmentation"
    assert doc["audio"]["channels"] == 1
    speakers = {s["id"]: s for s in doc["speakers"]}
    assert sorted(s["role"] for s in speakers.values()) == ["agent", "customer"]
    # Both planted interruptions, by the customer (bench/RESULTS.md: 2 of 2 found, none
    # made up); the utterances that interrupt are the customer's.
    by_role = {s["role"]: s["interruptions"] for s in speakers.values()}
    assert by_role == {"customer": 2, "agent": 0}
    assert doc["metrics"]["interruptions"] == 2
    cut = set(doc["metrics"]["interruption_utterances"])
    assert {u["role"] for u in doc["utterances"] if u["index"] in cut} == {"customer"}
    planted = [i.at for i in truth.interruptions]
    starts = sorted(u["start"] for u in doc["utterances"] if u["index"] in cut)
    assert all(abs(a - b) < 1.0 for a, b in zip(starts, planted, strict=True))
    # 2.7 s planted (1.5 + 1.2); measured 2.41 s
    bounded("overlap seconds, mono", doc["metrics"]["overlap_s"], above=1.5, below=3.5)


def test_mono_call_roles_from_content_and_metrics(demo_mono):
    truth, doc = demo_mono
    assert doc["audio"]["codec"] == "mp3" and doc["audio"]["channels"] == 1
    assert len(doc["speakers"]) == 2
    roles = {s["role"] for s in doc["speakers"]}
    assert roles == {"agent", "customer"}
    first = doc["utterances"][0]
    assert first["role"] == "agent" and "calling" in first["text"].lower()
    said = " ".join(t.text for t in truth.turns)
    heard = " ".join(u["text"] for u in doc["utterances"])
    bounded("WER, mono mp3, tiny.en", wer(said, heard), below=0.2)
    m = doc["metrics"]
    bounded("silence ratio", m["silence_ratio"], above=0, below=0.5)
    assert m["mean_response_latency_s"] is not None
    bounded("agent talk ratio", m["agent_talk_ratio"], above=0.2, below=0.8)
    assert len(m["sentiment_by_quarter"]["customer"]) == 4
    assert doc["analysis"]["resolution"] == "resolved"
    assert any("email" in item.lower() for item in doc["analysis"]["action_items"])
    for u in doc["utterances"]:
        assert (
            u["sentiment"]["label"] in {"positive", "neutral", "negative"}
            and -1 <= u["sentiment"]["score"] <= 1
        )
        assert u["words"] and all(
            u["start"] <= w["start"] <= w["end"] <= u["end"] + 1e-6 for w in u["words"]
        )


def test_the_result_is_stored(workdir, demo_mono, angry_stereo):
    db = Database(f"sqlite:///{workdir}/callytics.db")
    with db.session() as s:
        for _, doc in (demo_mono, angry_stereo):
            row = s.get(CallRow, doc["id"])
            assert row is not None and len(row.utterances) == len(doc["utterances"])
            assert s.get(JobRow, row.job_id).status == "succeeded"
            assert Path(row.audio_path).is_file()
    db.dispose()


@pytest.mark.parametrize("name", ["empty", "text_as_wav", "video_no_audio"])
def test_bad_input_exits_2_with_a_message_and_writes_nothing(workdir, name, tmp_path):
    from samples.badfiles import write_all

    files = write_all(tmp_path)
    before = table_counts(workdir)
    code, output, doc = analyze(workdir, str(files[name]))
    assert code == 2 and doc is None
    assert "error" in output and ("wav, flac" in output)
    assert table_counts(workdir) == before


def test_a_bad_option_exits_2(workdir, tmp_path):
    result = runner.invoke(
        app, ["analyze", str(tmp_path / "x.wav"), "--min-speakers", "3", "--max-speakers", "2"]
    )
    assert result.exit_code == 2 and "min-speakers" in result.output


def test_an_unknown_model_is_refused_before_any_work(workdir, tmp_path):
    render_call(load_script("short"), tmp_path / "short.wav")
    before = table_counts(workdir)
    code, output, _ = analyze(workdir, str(tmp_path / "short.wav"), "--model", "large-v3")
    assert code == 2 and "not available offline" in output and "tiny.en" in output
    assert table_counts(workdir) == before


def test_silence_only_is_analysed_with_a_warning(workdir, tmp_path):
    from samples.badfiles import silence

    code, output, doc = analyze(workdir, str(silence(tmp_path)))
    assert code == 0, output
    assert doc["utterances"] == [] and doc["speakers"] == [] and doc["analysis"] is None
    assert doc["metrics"]["silence_ratio"] == 1.0
    assert any("No speech" in w for w in doc["warnings"])


@pytest.mark.parametrize("name", ["truncated_wav", "six_channels", "speech_48k"])
def test_awkward_but_valid_audio_is_analysed(workdir, tmp_path, name):
    from samples.badfiles import write_all

    path = write_all(tmp_path)[name]
    code, output, doc = analyze(workdir, str(path))
    assert code == 0, output
    assert doc["utterances"] and doc["speakers"]
    assert doc["audio"]["channels"] == (6 if name == "six_channels" else 1)
    assert doc["stages"]["diarization"]["method"] == "segmentation"
