"""Speaker turns of a live mono call: voice embeddings clustered as they come.

Each final utterance long enough to carry a voice (``min_s``) is embedded; it joins the
speaker whose centroid is most similar (cosine) when that similarity reaches ``threshold``,
else it starts a new speaker while there are fewer than ``max_speakers``, else it joins the
nearest. Centroids are running means. An utterance too short to embed goes to the speaker who
did not speak last (turn-taking), or the first one. Names are ``S1``, ``S2``, ... in the order
voices were heard, as the post-call diarizer names them.
"""

from __future__ import annotations

import numpy as np

# CAM++ cosine similarity between the turns of the demo call (espeak-ng voices): the same
# voice 0.82-0.94, the other voice 0.19-0.33. Halfway: an utterance that mixes both voices
# (a turn change without a pause) stays under it more often than not.
THRESHOLD = 0.6


class IncrementalSpeakers:
    def __init__(
        self, threshold: float = THRESHOLD, max_speakers: int = 2, min_s: float = 0.6
    ) -> None:
        self.threshold = threshold
        self.max_speakers = max_speakers
        self.min_s = min_s
        self.centroids: list[np.ndarray] = []
        self.counts: list[int] = []
        self.last: int | None = None

    @property
    def speakers(self) -> list[str]:
        return [f"S{i + 1}" for i in range(len(self.centroids))]

    def assign(self, embedding: np.ndarray | None) -> str:
        """The speaker of an utterance with this voice embedding (None: too short)."""
        if embedding is None:
            index = self._by_turn()
        else:
            index = self._by_voice(np.asarray(embedding, dtype=np.float32).reshape(-1))
        self.last = index
        return f"S{index + 1}"

    def _by_turn(self) -> int:
        if not self.centroids:
            self.centroids.append(np.zeros(0, dtype=np.float32))  # a voice not heard yet
            self.counts.append(0)
            return 0
        if self.last is not None and len(self.centroids) == 2:
            return 1 - self.last
        return self.last if self.last is not None else 0

    def _by_voice(self, vector: np.ndarray) -> int:
        norm = float(np.linalg.norm(vector)) or 1.0
        vector = vector / norm
        scores = [
            float(c @ vector) / (float(np.linalg.norm(c)) or 1.0) if c.size else -1.0
            for c in self.centroids
        ]
        best = int(np.argmax(scores)) if scores else -1
        empty = next((i for i, c in enumerate(self.centroids) if not c.size), None)
        if best >= 0 and scores[best] >= self.threshold:
            index = best
        elif empty is not None:
            index = empty
        elif len(self.centroids) < self.max_speakers:
            self.centroids.append(np.zeros(0, dtype=np.float32))
            self.counts.append(0)
            index = len(self.centroids) - 1
        else:
            index = best
        self._update(index, vector)
        return index

    def _update(self, index: int, vector: np.ndarray) -> None:
        centroid, count = self.centroids[index], self.counts[index]
        if not centroid.size:
            self.centroids[index], self.counts[index] = vector.copy(), 1
            return
        self.centroids[index] = (centroid * count + vector) / (count + 1)
        self.counts[index] = count + 1
