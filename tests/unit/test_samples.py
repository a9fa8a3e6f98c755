"""The synthetic call generator: scripts, timing truth, layouts, formats and bad inputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import numpy as np
import pytest

from samples import CallScript, CallTruth, load_script, render_call, script_names
from samples.__main__ import main as cli
from samples.badfiles import write_all
from samples.synth import add_noise
from samples.timeline import MIN_OVERRUN_S, build_timeline
from samples.tts import VOICES

REQUIRED = {"demo", "angry", "three_party", "short", "tech_support", "cancellation", "transfer"}


def decode(path: Path) -> tuple[np.ndarray, int, str, int]:
    """(channels x samples float32, sample rate, codec name, channels) via PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        resampler = av.AudioResampler(format="fltp")
        chunks = [
            f.to_ndarray() for frame in container.decode(stream) for f in resampler.resample(frame)
        ]
        return np.concatenate(chunks, axis=1), ctx.sample_rate, ctx.name, ctx.channels


def samples_of(truth_turn, rate: int) -> slice:
    return slice(round(truth_turn.start * rate), round(truth_turn.end * rate))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


# ----------------------------------------------------------------------------- scripts


def test_the_required_scripts_are_bundled() -> None:
    assert set(script_names()) >= REQUIRED


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_script_opens_with_an_agent_greeting_naming_the_company(name: str) -> None:
    script = load_script(name)
    first = script.turns[0]
    assert (first.speaker, first.role) == ("A", "agent")
    assert f"Thank you for calling {script.company}" in first.text
    assert "my name is" in first.text
    for turn in script.turns:
        assert 1 <= len(re.findall(r"[.?!](\s|$)", turn.text)) <= 3, turn.text


def test_scripts_plant_what_the_analysis_should_find() -> None:
    demo, angry = load_script("demo"), load_script("angry")
    assert {"positive", "negative"} <= {t.sentiment for t in demo.turns}
    assert any("I'll email you the confirmation" in t.text for t in demo.turns)
    assert demo.expected["resolution"] == "resolved"
    assert angry.expected["resolution"] == "unresolved"
    assert angry.expected["conflict"] is True
    angry_text = " ".join(t.text for t in angry.turns).lower()
    for word in angry.expected["profanity"]:
        assert re.search(rf"\b{word}\b", angry_text)
    assert sum(t.overlap_s is not None for t in angry.turns) == 2
    assert load_script("three_party").speakers == ["A", "C", "T"]


def test_three_speakers_get_three_different_voices() -> None:
    voices = [VOICES[s] for s in load_script("three_party").speakers]
    assert len({v.name for v in voices}) == 3
    assert len({v.pitch for v in voices}) == 3


def test_a_too_short_interruption_is_refused() -> None:
    script = CallScript.from_dict(
        {
            "name": "bad",
            "turns": [
                {"speaker": "A", "role": "agent", "text": "Thank you for calling, how can I help?"},
                {"speaker": "C", "role": "customer", "text": "Hi.", "overlap_s": 0.5},
            ],
        }
    )
    with pytest.raises(ValueError, match="outlast"):
        build_timeline(script, sample_rate=8000)


# ------------------------------------------------------------------------ timing truth


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_turn_times_match_the_audio(name: str) -> None:
    rate = 8000
    timeline = build_timeline(load_script(name), sample_rate=rate)
    audio = timeline.audio[0]
    covered = np.zeros(audio.size, dtype=bool)
    for turn in timeline.turns:
        seg = audio[samples_of(turn, rate)]
        assert rms(seg) > 0.03, turn.text
        assert seg[0] != 0 and seg[-1] != 0  # trimmed to the real speech
        covered[samples_of(turn, rate)] = True
    assert not covered[: round(0.3 * rate)].any()
    assert np.all(audio[~covered] == 0.0)  # every gap is silent
    assert timeline.duration == pytest.approx(audio.size / rate)


def test_call_lengths() -> None:
    assert 60 <= build_timeline(load_script("demo"), sample_rate=8000).duration <= 90
    assert 15 <= build_timeline(load_script("short"), sample_rate=8000).duration <= 25


def test_planted_interruptions_are_in_the_truth(tmp_path: Path) -> None:
    truth = render_call(load_script("angry"), tmp_path / "angry.wav", sample_rate=8000)
    assert len(truth.interruptions) == 2
    for event in truth.interruptions:
        now, before = truth.turns[event.turn], truth.turns[event.interrupted_turn]
        assert event.turn == event.interrupted_turn + 1
        assert (event.interrupter, event.interrupted) == (now.speaker, before.speaker)
        assert before.start < now.start < before.end
        assert now.end > before.end + MIN_OVERRUN_S
        assert event.at == now.start
        assert event.overlap_s == pytest.approx(before.end - now.start)


def test_pauses_follow_the_seed() -> None:
    script = load_script("short")
    a = build_timeline(script, sample_rate=8000, seed=0)
    b = build_timeline(script, sample_rate=8000, seed=0)
    c = build_timeline(script, sample_rate=8000, seed=1)
    assert a.turns == b.turns
    assert [t.start for t in a.turns] != [t.start for t in c.turns]
    for prev, turn in zip(a.turns, a.turns[1:], strict=False):
        assert 0.3 <= turn.start - prev.end <= 0.9 + 1e-3


# ----------------------------------------------------------------- layouts and formats


def test_stereo_puts_the_agent_alone_on_channel_0(tmp_path: Path) -> None:
    truth = render_call(load_script("short"), tmp_path / "s.wav", layout="stereo")
    audio, rate, _, channels = decode(tmp_path / "s.wav")
    assert channels == 2
    for turn in truth.turns:
        own, other = (0, 1) if turn.role == "agent" else (1, 0)
        assert turn.channel == own
        assert rms(audio[own, samples_of(turn, rate)]) > 0.03
        assert np.max(np.abs(audio[other, samples_of(turn, rate)])) < 1e-3


def test_mulaw_is_8k_pcm_mulaw(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    truth = render_call(load_script("short"), path, layout="stereo", mulaw=True)
    audio, rate, codec, channels = decode(path)
    assert (codec, rate, channels) == ("pcm_mulaw", 8000, 2)
    assert (truth.codec, truth.sample_rate, truth.channels) == ("pcm_mulaw", 8000, 2)
    assert audio.shape[1] / rate == pytest.approx(truth.duration, abs=1e-3)


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [(".wav", "pcm_s16le"), (".flac", "flac"), (".mp3", "mp3"), (".ogg", "opus"), (".m4a", "aac")],
)
def test_every_format_decodes_to_the_right_duration(
    tmp_path: Path, suffix: str, codec: str
) -> None:
    path = tmp_path / f"call{suffix}"
    truth = render_call(load_script("short"), path)
    audio, rate, decoder, channels = decode(path)
    assert decoder.startswith(codec)
    assert channels == 1
    assert audio.shape[1] / rate == pytest.approx(truth.duration, abs=0.3)
    first = truth.turns[0]
    assert rms(audio[0, samples_of(first, rate)]) > 0.03


@pytest.mark.parametrize("kind", ["white", "pink"])
def test_noise_lands_at_the_requested_snr(kind: str) -> None:
    timeline = build_timeline(load_script("short"), sample_rate=8000)
    noisy = add_noise(timeline.audio, timeline, 10.0, kind, seed=0)
    noise = noisy - timeline.audio
    speech = np.zeros(noise.shape[1], dtype=bool)
    for turn in timeline.turns:
        speech[samples_of(turn, 8000)] = True
    snr = 10 * np.log10(np.mean(timeline.audio[:, speech] ** 2) / np.mean(noise**2))
    assert snr == pytest.approx(10.0, abs=0.5)


def test_truth_round_trips_and_exports_rttm(tmp_path: Path) -> None:
    truth = render_call(load_script("three_party"), tmp_path / "t.flac", sample_rate=8000)
    assert CallTruth.from_json(truth.to_json()) == truth
    lines = truth.to_rttm("t").splitlines()
    assert len(lines) == len(truth.turns)
    fields = lines[0].split()
    assert fields[:3] == ["SPEAKER", "t", "1"] and fields[7] == "A"
    assert float(fields[3]) == pytest.approx(truth.turns[0].start, abs=1e-3)
    assert {s: v["role"] for s, v in truth.speakers.items()} == {
        "A": "agent",
        "C": "customer",
        "T": "unknown",
    }


# --------------------------------------------------------------------------------- CLI


def test_demo_cli_renders_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo.wav"
    assert cli(["demo", str(out)]) == 0
    truth = json.loads((tmp_path / "demo.wav.truth.json").read_text())
    assert (truth["codec"], truth["sample_rate"], truth["channels"]) == ("pcm_mulaw", 8000, 2)
    stamp = out.stat().st_mtime_ns
    capsys.readouterr()
    assert cli(["demo", str(out)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert out.stat().st_mtime_ns == stamp
    assert cli(["render", "demo", str(out), "--mulaw", "--layout", "mono"]) == 0
    assert "up to date" not in capsys.readouterr().out
    assert decode(out)[3] == 1


# --------------------------------------------------------------------------- bad files


def test_bad_files_are_what_they_claim(tmp_path: Path) -> None:
    files = write_all(tmp_path)
    assert files["empty"].stat().st_size == 0
    with pytest.raises(av.error.InvalidDataError):
        av.open(str(files["text_as_wav"]))
    with av.open(str(files["video_no_audio"])) as c:
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 0
    audio, rate, _, channels = decode(files["silence"])
    assert channels == 1 and audio.shape[1] == 10 * rate and not audio.any()
    audio, _, _, channels = decode(files["six_channels"])
    assert channels == 6
    assert [rms(ch) > 0.01 for ch in audio] == [True, True, False, False, False, False]
    audio, _, _, channels = decode(files["identical_stereo"])
    assert channels == 2 and rms(audio[0]) > 0.01 and np.array_equal(audio[0], audio[1])
    assert decode(files["speech_8k"])[1] == 8000
    assert decode(files["speech_48k"])[1] == 48000
    header = files["truncated_wav"].read_bytes()
    data_at = header.index(b"data")
    claimed = int.from_bytes(header[data_at + 4 : data_at + 8], "little")
    assert claimed > len(header) - data_at - 8
    full = tmp_path / "full.mp3"
    render_call(load_script("short"), full)
    assert 0 < files["truncated_mp3"].stat().st_size < full.stat().st_size
