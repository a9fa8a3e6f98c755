"""faster-whisper on the real JFK recording, offline."""

import pytest

from core.domain import TranscriptionOptions
from core.errors import ModelNotFoundError
from services.asr.local import FasterWhisperTranscriber
from services.asr.models import resolve_whisper_model
from services.decode.local import decode
from tests.integration.asr_support import JFK_TEXT, wer
from tests.support.measure import bounded

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def jfk(recordings):
    return decode(recordings / "jfk.flac")


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.mark.parametrize(("model", "max_wer"), [("base", 0.10), ("tiny.en", 0.10)])
async def test_jfk_transcribes_to_its_known_text(jfk, model_cache, model, max_wer):
    asr = FasterWhisperTranscriber(model, cache_dir=model_cache, device="cpu")
    progress = []
    transcript = await asr.transcribe(
        jfk.mono, TranscriptionOptions(), lambda f, m: progress.append(f)
    )
    text = " ".join(w.text for w in transcript.words)
    bounded(f"JFK WER, {model}", wer(JFK_TEXT, text), below=max_wer)
    assert transcript.language == "en"
    assert progress and progress[-1] == pytest.approx(1.0, abs=0.1)
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts)
    assert all(0 <= w.start <= w.end <= jfk.duration_s + 0.5 for w in transcript.words)
    assert all(0 <= w.probability <= 1 for w in transcript.words)
    info = asr.info()
    assert (info.engine, info.model, info.device, info.extra["compute_type"]) == (
        "faster-whisper",
        model,
        "cpu",
        "int8",
    )


async def test_batched_decoding_gives_the_same_words(jfk, model_cache):
    asr = FasterWhisperTranscriber("tiny.en", cache_dir=model_cache, device="cpu", batch_size=4)
    progress = []
    transcript = await asr.transcribe(
        jfk.mono, TranscriptionOptions(), lambda f, m: progress.append(f)
    )
    bounded(
        "JFK WER, tiny.en batched",
        wer(JFK_TEXT, " ".join(w.text for w in transcript.words)),
        below=0.10,
    )
    assert [w.start for w in transcript.words] == sorted(w.start for w in transcript.words)
    assert progress and asr.info().extra["batch_size"] == 4


async def test_the_multilingual_base_model_detects_the_language(jfk, model_cache):
    asr = FasterWhisperTranscriber("base", cache_dir=model_cache, device="cpu", beam_size=1)
    transcript = await asr.transcribe(jfk.mono[: 16000 * 5], TranscriptionOptions())
    assert transcript.language == "en" and transcript.language_probability > 0.5


def test_base_is_assembled_once_from_its_two_wheels(model_cache):
    first = resolve_whisper_model("base", model_cache)
    mtime = (model_cache / first.split("/")[-1] / "model.bin").stat().st_mtime_ns
    again = resolve_whisper_model("base", model_cache)
    assert first == again
    assert (model_cache / again.split("/")[-1] / "model.bin").stat().st_mtime_ns == mtime


def test_a_local_directory_is_accepted(model_cache):
    path = resolve_whisper_model("tiny.en", model_cache)
    assert resolve_whisper_model(path, model_cache) == path


def test_a_hub_name_fails_offline_with_a_clear_message(model_cache, tmp_path):
    with pytest.raises(ModelNotFoundError, match="not available offline") as err:
        resolve_whisper_model("large-v3", model_cache)
    assert "tiny.en" in err.value.hint
    with pytest.raises(ModelNotFoundError, match=r"no model\.bin"):
        resolve_whisper_model(str(tmp_path), model_cache)
