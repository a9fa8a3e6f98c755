"""Local agreement: commit the words that two successive decodes of a growing window agree on.

The policy of ufal/whisper_streaming (Macháček et al., 2023): the audio not yet committed is
decoded again each time more of it arrives; a word is committed once it is the next word in
two decodes in a row, so a word is never taken back once sent. What the last decode says
after the committed words is the tentative tail, shown as a partial and replaced by the next.

Words are compared by their normalised text (case and punctuation ignored): Whisper often
revises only the punctuation of a word as more context arrives. Timestamps are the stream's
(seconds from its start).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.domain import Word

_NON_WORD = re.compile(r"[^\w']+")
# A decode's first word is taken for the last committed one repeated when they agree and
# start this close together (whisper_streaming's 1 s).
REPEAT_WINDOW_S = 1.0
# Words that start this long before the last committed word's end are what Whisper heard
# again of audio already committed; they are dropped (whisper_streaming's 0.1 s).
OVERLAP_S = 0.1
MAX_NGRAM = 5


def normal(text: str) -> str:
    return _NON_WORD.sub("", text.lower())


class HypothesisBuffer:
    """The committed words and the current tentative tail of one stream."""

    def __init__(self) -> None:
        self.committed: list[Word] = []  # everything committed, in order
        self.tentative: list[Word] = []  # the last decode's words after the committed ones
        self._recent: list[Word] = []  # committed words still inside the decoded window
        self._new: list[Word] = []
        self.last_end = 0.0

    def insert(self, words: Sequence[Word]) -> None:
        """A new decode of the window (stream time), before :meth:`flush`."""
        new = [w for w in words if w.start > self.last_end - OVERLAP_S]
        if new and self._recent and abs(new[0].start - self.last_end) < REPEAT_WINDOW_S:
            # Drop an n-gram at the head of ``new`` that repeats the committed words' tail.
            for n in range(min(len(self._recent), len(new), MAX_NGRAM), 0, -1):
                tail = [normal(w.text) for w in self._recent[-n:]]
                head = [normal(w.text) for w in new[:n]]
                if tail == head:
                    new = new[n:]
                    break
        self._new = new

    def flush(self) -> list[Word]:
        """Commit the longest prefix the new decode shares with the previous one."""
        commit: list[Word] = []
        while self._new and self.tentative:
            if normal(self._new[0].text) != normal(self.tentative[0].text):
                break
            word = self._new.pop(0)
            self.tentative.pop(0)
            commit.append(word)
            self.last_end = word.end
        self.tentative = self._new
        self._new = []
        self._commit(commit)
        return commit

    def complete(self) -> list[Word]:
        """Commit the tentative tail as it stands (the speaker paused, or the stream ended)."""
        commit, self.tentative = self.tentative, []
        if commit:
            self.last_end = commit[-1].end
        self._commit(commit)
        return commit

    def forget_before(self, time: float) -> None:
        """The window now starts at ``time``: committed words before it are out of it."""
        self._recent = [w for w in self._recent if w.end > time]

    def _commit(self, words: list[Word]) -> None:
        self.committed.extend(words)
        self._recent.extend(words)
