"""Words to speakers (by time overlap, word by word) and words to utterances (turns)."""

from __future__ import annotations

import bisect
import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.domain import SpeakerTurn, Utterance, Word

# A speaker's next word joins the current utterance unless the pause before it is longer
# than this, or somebody else spoke in that pause.
MAX_PAUSE_IN_UTTERANCE_S = 2.0
# Very long monologues are cut at a sentence end once they pass this length.
MAX_UTTERANCE_S = 30.0
SENTENCE_END = (".", "?", "!")
# Two speakers cover a word alike when the smaller overlap is at least this share of the larger.
OVERLAP_TIE = 0.9


@dataclass(frozen=True)
class SpeakerWord:
    speaker: str
    word: Word


class _TurnIndex:
    """Turns sorted by start, for overlap and nearest-turn queries."""

    def __init__(self, turns: Sequence[SpeakerTurn]) -> None:
        self.turns = sorted(turns, key=lambda t: (t.start, t.end))
        self.starts = [t.start for t in self.turns]
        # Longest turn bounds how far back an overlapping turn can start.
        self.max_len = max((t.end - t.start for t in self.turns), default=0.0)

    def overlapping(self, start: float, end: float) -> Iterable[SpeakerTurn]:
        lo = bisect.bisect_left(self.starts, start - self.max_len)
        hi = bisect.bisect_right(self.starts, end)
        for t in self.turns[lo:hi]:
            if t.end > start and t.start < end:
                yield t

    def nearest(self, t: float) -> SpeakerTurn | None:
        if not self.turns:
            return None
        i = bisect.bisect_left(self.starts, t)
        candidates = self.turns[max(0, i - 1) : i + 1]
        return min(candidates, key=lambda turn: _distance(turn, t))


def _distance(turn: SpeakerTurn, t: float) -> float:
    if turn.start <= t <= turn.end:
        return 0.0
    return min(abs(turn.start - t), abs(turn.end - t))


def assign_speakers(
    words: Sequence[Word], turns: Sequence[SpeakerTurn], default_speaker: str = "S1"
) -> list[SpeakerWord]:
    """Give every word the speaker whose turns overlap it most.

    Where two speakers' turns cover a word alike (overlapped speech), the word stays with
    the speaker of the word before it: one voice's words run on through an overlap, and
    Whisper, hearing the mix, writes one voice at a time. A word that no turn overlaps
    goes to the speaker of the nearest turn; with no turns at all, every word goes to
    ``default_speaker``. Every input word comes out exactly once.
    """
    index = _TurnIndex(turns)
    chosen: dict[int, str] = {}
    previous: str | None = None
    for i in sorted(range(len(words)), key=lambda i: (words[i].start, words[i].end)):
        w = words[i]
        # Zero-length words still get a point query.
        start, end = w.start, max(w.end, w.start + 1e-3)
        overlap: dict[str, float] = defaultdict(float)
        for turn in index.overlapping(start, end):
            overlap[turn.speaker] += min(end, turn.end) - max(start, turn.start)
        if overlap:
            speaker = max(sorted(overlap), key=lambda s: overlap[s])
            alike = overlap.get(previous or "", 0.0) >= OVERLAP_TIE * overlap[speaker]
            if previous is not None and previous != speaker and alike:
                speaker = previous
        else:
            near = index.nearest((start + end) / 2)
            speaker = near.speaker if near else default_speaker
        chosen[i] = previous = speaker
    return [SpeakerWord(chosen[i], w) for i, w in enumerate(words)]


def fit_to_turns(
    utterances: Sequence[Utterance], turns: Sequence[SpeakerTurn], max_shift_s: float = 2.0
) -> list[Utterance]:
    """Utterances of a mono call fitted to the diarization turns that hold them.

    Whisper hears a mono mix one voice at a time: under overlapped speech it writes one
    speaker's words and drops or delays the other's, and its word boundaries run a few
    tenths of a second loose, so word times alone never show two people talking at once.
    An overlap-aware diarizer does see it. Each speaker's first utterance in a turn starts
    where the turn starts and the last ends where it ends (earlier or later), when that is
    within ``max_shift_s`` of the words, leaves the first (last) word inside, and does not
    cross the speaker's own neighbouring utterances. A word reaching past a boundary so
    moved is clipped to it, as dual-channel words are clipped to their channel's speech.
    """
    by_speaker: dict[str, list[SpeakerTurn]] = defaultdict(list)
    for t in turns:
        by_speaker[t.speaker].append(t)
    out = [dataclasses.replace(u, words=list(u.words)) for u in utterances]
    mine: dict[str, list[Utterance]] = defaultdict(list)
    for u in sorted(out, key=lambda u: u.start):
        mine[u.speaker].append(u)
    for speaker, own in mine.items():
        for t in by_speaker.get(speaker, []):
            inside = [u for u in own if u.start < t.end and u.end > t.start and u.words]
            if not inside:
                continue
            first, last = inside[0], inside[-1]
            before = max((u.end for u in own if u.end <= first.start), default=-1.0)
            after = min((u.start for u in own if u.start >= last.end), default=float("inf"))
            start, end = round(float(t.start), 3), round(float(t.end), 3)
            head, tail = first.words[0], last.words[-1]
            if abs(first.start - start) <= max_shift_s and before <= start < head.end:
                first.start = start
                if head.start < start:
                    first.words[0] = Word(head.text, start, head.end, head.probability)
            if abs(end - last.end) <= max_shift_s and tail.start < end <= after:
                last.end = end
                tail = last.words[-1]
                if tail.end > end:
                    last.words[-1] = Word(tail.text, tail.start, end, tail.probability)
    return out


def filter_channel_words(
    words: Sequence[Word], speaker: str, turns: Sequence[SpeakerTurn], pad: float = 0.1
) -> list[Word]:
    """Words transcribed from one channel of a dual-channel call.

    Keep a word unless it lies outside its own speaker's turns AND inside another
    speaker's: that is the other party bleeding into this channel's microphone. A kept
    word that overlaps its speaker's turns is clipped to them (give or take ``pad``):
    the channel's speech activity is more precise than Whisper's word boundaries, which
    tend to run on into the pause after the last word of a turn.
    """
    own = _TurnIndex([t for t in turns if t.speaker == speaker])
    other = _TurnIndex([t for t in turns if t.speaker != speaker])
    kept = []
    for w in words:
        end = max(w.end, w.start + 1e-3)
        mine = list(own.overlapping(w.start, end))
        if mine:
            lo = min(t.start for t in mine) - pad
            hi = max(t.end for t in mine) + pad
            start, stop = max(w.start, lo), min(w.end, hi)
            if (start, stop) != (w.start, w.end) and stop > start:
                w = Word(w.text, round(start, 3), round(stop, 3), w.probability)
            kept.append(w)
        elif not any(True for _ in other.overlapping(w.start, end)):
            kept.append(w)
    return kept


def join_words(words: Iterable[Word]) -> str:
    return " ".join(w.text for w in words).strip()


def group_utterances(assigned: Sequence[SpeakerWord]) -> list[Utterance]:
    """Group each speaker's words into turns, allowing turns of different speakers to overlap.

    A speaker's word continues their current utterance unless the pause before it is
    longer than MAX_PAUSE_IN_UTTERANCE_S, or another speaker said a whole word inside
    that pause (they took the floor), or the utterance is already long and ended a
    sentence. Utterances come out sorted by start time and numbered from 0.
    """
    by_speaker: dict[str, list[Word]] = defaultdict(list)
    for sw in assigned:
        by_speaker[sw.speaker].append(sw.word)
    all_words = sorted(assigned, key=lambda sw: (sw.word.start, sw.word.end))
    starts = [sw.word.start for sw in all_words]

    def someone_else_spoke(speaker: str, gap_start: float, gap_end: float) -> bool:
        lo = bisect.bisect_left(starts, gap_start)
        hi = bisect.bisect_right(starts, gap_end)
        return any(sw.speaker != speaker and sw.word.end <= gap_end for sw in all_words[lo:hi])

    pieces: list[tuple[str, list[Word]]] = []
    for speaker, words in by_speaker.items():
        words.sort(key=lambda w: (w.start, w.end))
        current: list[Word] = []
        for w in words:
            if current:
                prev = current[-1]
                long_enough = prev.end - current[0].start > MAX_UTTERANCE_S and prev.text.endswith(
                    SENTENCE_END
                )
                if (
                    w.start - prev.end > MAX_PAUSE_IN_UTTERANCE_S
                    or long_enough
                    or someone_else_spoke(speaker, prev.end, w.start)
                ):
                    pieces.append((speaker, current))
                    current = []
            current.append(w)
        if current:
            pieces.append((speaker, current))

    pieces.sort(key=lambda p: (p[1][0].start, p[1][-1].end, p[0]))
    return [
        Utterance(
            index=i,
            speaker=speaker,
            start=words[0].start,
            end=max(w.end for w in words),
            text=join_words(words),
            words=list(words),
        )
        for i, (speaker, words) in enumerate(pieces)
    ]
