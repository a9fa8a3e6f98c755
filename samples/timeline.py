"""Lay a script's utterances on a timeline: pauses, planted overlaps, channels, mixing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samples.model import CallScript, Interruption, TurnTruth
from samples.tts import VOICES, speak

LEAD_IN_S = 0.5
TAIL_S = 0.5
PAUSE_RANGE_S = (0.3, 0.9)
MIN_OVERRUN_S = 1.0  # an interrupting turn must outlast the interrupted one by this much
MAX_PEAK = 0.95


@dataclass(frozen=True)
class Timeline:
    """Clean speech (channels x samples) and where every turn sits in it."""

    audio: np.ndarray
    sample_rate: int
    turns: tuple[TurnTruth, ...]
    interruptions: tuple[Interruption, ...]

    @property
    def duration(self) -> float:
        return self.audio.shape[1] / self.sample_rate


def channel_of(speaker: str, layout: str, role: str = "") -> int | None:
    """Stereo follows the call-centre convention: the company's side left (0: the agent,
    and a supervisor who joins), everyone else right (1)."""
    if layout == "mono":
        return None
    if layout == "stereo":
        return 0 if speaker == "A" or role == "agent" else 1
    raise ValueError(f"layout must be 'mono' or 'stereo': {layout!r}")


def build_timeline(
    script: CallScript, *, layout: str = "mono", sample_rate: int = 16000, seed: int = 0
) -> Timeline:
    rng = np.random.default_rng(seed)
    sr = sample_rate
    clips = [speak(t.text, VOICES[t.speaker], sr) for t in script.turns]
    spans: list[tuple[int, int]] = []
    interruptions: list[Interruption] = []
    last_end = round(LEAD_IN_S * sr)
    for i, (turn, clip) in enumerate(zip(script.turns, clips, strict=True)):
        if i == 0:
            start = last_end
        elif turn.overlap_s is not None:
            prev_end = spans[i - 1][1]
            start = prev_end - round(turn.overlap_s * sr)
            _check_overlap(script, i, start, start + len(clip), spans[i - 1], sr)
            interruptions.append(
                Interruption(
                    turn=i,
                    interrupted_turn=i - 1,
                    interrupter=turn.speaker,
                    interrupted=script.turns[i - 1].speaker,
                    at=start / sr,
                    overlap_s=(prev_end - start) / sr,
                )
            )
        else:
            pause = turn.pause_s if turn.pause_s is not None else rng.uniform(*PAUSE_RANGE_S)
            start = last_end + round(pause * sr)
        spans.append((start, start + len(clip)))
        last_end = max(last_end, start + len(clip))

    n_channels = 1 if layout == "mono" else 2
    audio = np.zeros((n_channels, last_end + round(TAIL_S * sr)), dtype=np.float32)
    turns = []
    for i, (turn, clip, (start, end)) in enumerate(zip(script.turns, clips, spans, strict=True)):
        ch = channel_of(turn.speaker, layout, turn.role)
        audio[ch or 0, start:end] += clip
        turns.append(
            TurnTruth(
                i, turn.speaker, turn.role, turn.text, start / sr, end / sr, turn.sentiment, ch
            )
        )
    peak = float(np.max(np.abs(audio)))
    if peak > MAX_PEAK:  # overlapping speech in a mono mix
        audio *= MAX_PEAK / peak
    return Timeline(audio, sr, tuple(turns), tuple(interruptions))


def _check_overlap(
    script: CallScript, i: int, start: int, end: int, prev: tuple[int, int], sr: int
) -> None:
    where = f"{script.name} turn {i}"
    if script.turns[i].speaker == script.turns[i - 1].speaker:
        raise ValueError(f"{where}: a speaker cannot interrupt themself")
    if start <= prev[0]:
        raise ValueError(f"{where}: overlap_s is longer than the interrupted turn")
    if end < prev[1] + MIN_OVERRUN_S * sr:
        raise ValueError(f"{where}: the interrupting turn must outlast the interrupted one")
