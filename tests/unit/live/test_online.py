"""The online policy over a scripted decoder: when it decodes, commits, ends utterances, cuts."""

from __future__ import annotations

import numpy as np

from core.domain import Word
from core.live.online import SR, OnlinePolicy, OnlineTranscriber


class Scripted:
    """A decoder that 'hears' the words of a script whose end is inside the window, and the
    word being spoken at the window's end as a guess that changes between decodes."""

    def __init__(self, script: list[Word]) -> None:
        self.script = script
        self.prompts: list[str] = []
        self.online: OnlineTranscriber | None = None  # whose window it decodes
        self.calls = 0

    def __call__(self, audio: np.ndarray, prompt: str, language: str | None):
        self.calls += 1
        self.prompts.append(prompt)
        assert self.online is not None
        start = self.online.offset
        end = start + len(audio) / SR
        heard = [
            Word(w.text, w.start - start, w.end - start)
            for w in self.script
            if w.start >= start - 0.05 and w.end <= end + 0.01
        ]
        speaking = [w for w in self.script if w.start < end < w.end - 0.01]
        if speaking:
            heard.append(
                Word(f"{speaking[0].text}-{self.calls}", speaking[0].start - start, end - start)
            )
        return heard, "en"


def speech(audio: np.ndarray) -> list[tuple[int, int]]:
    """The scripted VAD: the runs of non-zero samples."""
    loud = np.abs(audio) > 0
    if not loud.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(int), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def audio_of(script: list[Word], seconds: float) -> np.ndarray:
    """Non-zero samples where a word is spoken, zeros elsewhere (the scripted VAD's speech)."""
    audio = np.zeros(int(seconds * SR), dtype=np.float32)
    for w in script:
        audio[int(w.start * SR) : int(w.end * SR)] = 0.1
    return audio


def run(online: OnlineTranscriber, decoder: Scripted, audio: np.ndarray, step_s: float = 0.5):
    updates = []
    step = int(step_s * SR)
    for i in range(0, len(audio), step):
        updates.append(online.push(audio[i : i + step]))
    updates.append(online.finish())
    return updates


SCRIPT = [
    Word("thank", 0.5, 0.9),
    Word("you", 1.0, 1.3),
    Word("for", 1.4, 1.6),
    Word("calling", 1.7, 2.3),
    Word("how", 4.0, 4.3),
    Word("can", 4.4, 4.6),
    Word("I", 4.7, 4.8),
    Word("help", 4.9, 5.4),
]


def make(script=SCRIPT, **policy):
    decoder = Scripted(script)
    online = OnlineTranscriber(decoder, speech, OnlinePolicy(**policy))
    decoder.online = online
    return decoder, online


def test_every_word_is_committed_once_in_order_and_utterances_end_at_pauses():
    decoder, online = make()
    updates = run(online, decoder, audio_of(SCRIPT, 7.0))
    committed = [w for u in updates for w in u.committed]
    assert [w.text for w in committed] == [w.text for w in SCRIPT]
    assert [w.start for w in committed] == [w.start for w in SCRIPT]  # stream time, not window
    # Two utterances: the pause after "calling" (1.7 s of silence) ends the first.
    ends = [i for i, u in enumerate(updates) if u.endpoint]
    assert len(ends) == 2
    first = [w.text for u in updates[: ends[0] + 1] for w in u.committed]
    assert first == ["thank", "you", "for", "calling"]


def test_a_word_being_spoken_is_tentative_until_two_decodes_agree():
    decoder, online = make()
    updates = run(online, decoder, audio_of(SCRIPT, 7.0))
    guesses = {w.text for u in updates for w in u.tentative if "-" in w.text}
    assert guesses  # the half-heard word was shown as a guess...
    assert not any("-" in w.text for u in updates for w in u.committed)  # ...never committed


def test_nothing_is_decoded_before_min_chunk_or_in_silence():
    decoder, online = make(min_chunk_s=1.0)
    online.push(np.zeros(int(0.5 * SR), dtype=np.float32))
    assert decoder.calls == 0
    update = online.push(np.zeros(int(3 * SR), dtype=np.float32))
    assert decoder.calls == 0 and update.committed == [] and not update.endpoint
    assert online.offset > 3.0  # the silence was dropped from the window


def test_the_prompt_is_the_committed_text_before_the_window():
    decoder, online = make()
    run(online, decoder, audio_of(SCRIPT, 7.0))
    assert any(p.endswith("thank you for calling") for p in decoder.prompts)


def test_a_window_without_a_pause_is_cut_after_its_committed_words():
    script = [Word(f"w{i}", 0.2 + i * 0.5, 0.6 + i * 0.5) for i in range(40)]  # 20 s, no pause
    audio = audio_of(script, 21.0)
    audio[audio == 0] = 0.1  # the speaker never pauses
    decoder, online = make(script, max_window_s=5.0)
    updates = run(online, decoder, audio)
    assert online.offset > 10.0  # the window moved on
    committed = [w.text for u in updates for w in u.committed]
    assert committed == [w.text for w in script]


def test_utterances_that_ended_inside_one_big_push_end_apart():
    _, online = make()
    update = online.push(audio_of(SCRIPT, 7.0))  # audio faster than it is decoded
    assert [w.text for w in update.committed] == [w.text for w in SCRIPT]
    assert update.ends == [4]  # "thank you for calling" | "how can I help"
    assert update.endpoint  # and the second ended too: 1.6 s of silence after "help"
