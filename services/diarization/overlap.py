"""Overlap-aware diarization of a mono mix: segmentation-3.0, CAM++, clustering, overlap kept.

1. **Segmentation.** segmentation-3.0 runs over 10 s chunks every ``step_s``; each chunk
   says, per 17 ms frame, which of up to three *local* speakers talk, two at once included.
   Averaged over the chunks, that gives how many people talk in each frame.
2. **Identity from clean windows.** Windows of ``window_s`` every ``hop_s`` where one voice
   talks alone are embedded by CAM++ over their single-speaker frames only (CAM++ mixes
   context across its input, and overlapped frames blur voices), then clustered with the
   count rules of ``clustering.py`` (``CAMPP_RULES``).
3. **Local speakers take the windows' labels.** Each chunk is cut into sub-windows of
   ``unit_s``; every local speaker active in one is a *unit*, labelled by the clean windows
   nearest its frames (Hungarian: two units of one sub-window never take the same speaker).
   Sub-windows, rather than whole chunks, because segmentation-3.0 sometimes keeps two
   similar voices on one local speaker for several seconds (AMI dev01).
4. **Reconstruction.** A frame where one voice talks alone near a clean window takes that
   window's speaker; the others rank the speakers by their units' activity averaged over
   the chunks, and keep as many as talk there: two at once is overlap, kept as overlapping
   turns. A speaker's pauses under ``merge_gap_s`` are bridged.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from core.analysis.conversation import union
from core.domain import Diarization, Interval, SpeakerTurn

from . import weights
from .campplus import DIMENSION, FRAME_SHIFT, CamPlusPlus, fbank
from .clustering import CountRules, centroids, cluster
from .segmentation import SAMPLE_RATE, Segmentation, frame_count, load_network, segment
from .vad import mask_to_spans, merge_spans

MIN_FBANK_FRAMES = 25  # a quarter second: fewer frames than this give no embedding
MAX_CLUSTERED = 800  # windows clustered at most; the rest join the nearest centroid


@dataclass(frozen=True)
class Params:
    step_s: float = 5.0  # segmentation chunk hop (chunks are 10 s); 2.5 s: no better, slower
    window_s: float = 2.0  # speaker-embedding window over single-speaker speech
    hop_s: float = 1.0
    min_clean: float = 0.8  # share of a window that must be one speaker alone
    unit_s: float = 1.0  # sub-window of a chunk whose local speaker takes one label
    max_vote_distance_s: float = 1.0  # a window labels frames this close to its centre
    merge_gap_s: float = 0.3
    min_turn_s: float = 0.2


# Count rules of clustering.py for CAM++ windows. Centroid cosine measured on the real clips
# and the synthetic calls: two voices 0.24-0.55, one voice split in two 0.68-0.94. A third
# party whose voice is distinct outright needs no eigengap (the three_party call's father:
# eigengap 0.21; a false third speaker on AMI dev00: 0.21 too, but with a pair at 0.68).
CAMPP_RULES = CountRules(
    distinct_similarity=0.6,
    same_similarity=0.85,
    min_eigengap=0.25,
    min_speaker_s=1.5,
    outright_skips_eigengap=True,
)


@dataclass
class Unit:
    chunk: int
    local: int
    first: int  # segmentation frames [first, last) of the chunk
    last: int


def make_units(seg: Segmentation, params: Params) -> list[Unit]:
    frames = seg.activity.shape[1]
    per_unit = max(1, round(params.unit_s / seg.grid.step))
    bounds = list(range(0, frames, per_unit))
    if len(bounds) > 1 and frames - bounds[-1] < per_unit / 2:
        bounds.pop()  # a short tail joins the sub-window before it
    edges = [*bounds, frames]
    return [
        Unit(c, k, first, last)
        for c in range(len(seg.starts))
        for first, last in itertools.pairwise(edges)
        for k in range(seg.activity.shape[2])
        if seg.activity[c, first:last, k].any()
    ]


@dataclass(frozen=True)
class Windows:
    spans: list[tuple[float, float]]
    embeddings: np.ndarray  # (n, DIMENSION)


def clean_windows(
    counts: np.ndarray, step: float, mono: np.ndarray, encoder: CamPlusPlus, params: Params
) -> Windows:
    """CAM++ embeddings of ``window_s`` windows every ``hop_s`` where one voice talks alone.

    Each window is embedded over its single-speaker frames only (their filter bank cut out
    and joined): CAM++ mixes context across its input, and overlapped frames blur voices.
    """
    features = fbank(mono).numpy()
    alone = counts == 1
    per_window = max(1, round(params.window_s / step))
    spans: list[tuple[float, float]] = []
    stretches: list[np.ndarray] = []
    fbank_step = FRAME_SHIFT / SAMPLE_RATE
    duration = len(mono) / SAMPLE_RATE
    for t0 in np.arange(0.0, max(duration - params.window_s, 0.0) + 1e-9, params.hop_s):
        a = int(t0 / step)
        mask = alone[a : a + per_window]
        if len(mask) == 0 or mask.mean() < params.min_clean:
            continue
        frames = _fbank_frames(
            (a + np.flatnonzero(mask) + 0.5) * step, step, fbank_step, len(features)
        )
        if len(frames) < MIN_FBANK_FRAMES:
            continue
        spans.append((float(t0), float(t0 + params.window_s)))
        stretches.append(features[frames])
    if not stretches:
        return Windows([], np.zeros((0, DIMENSION), dtype=np.float32))
    return Windows(spans, encoder.embed_many(stretches))


def _fbank_frames(times: np.ndarray, seg_step: float, fbank_step: float, n: int) -> np.ndarray:
    """The filter-bank frames whose centres fall in the frames centred at ``times``."""
    if len(times) == 0:
        return np.zeros(0, dtype=int)
    lo = np.ceil((times - seg_step / 2 - 0.0125) / fbank_step).astype(int)
    hi = np.floor((times + seg_step / 2 - 0.0125) / fbank_step).astype(int)
    frames = np.unique(np.concatenate([np.arange(a, b + 1) for a, b in zip(lo, hi, strict=True)]))
    return frames[(frames >= 0) & (frames < n)]


def label_units(
    seg: Segmentation, units: list[Unit], windows: Windows, labels: np.ndarray, params: Params
) -> np.ndarray:
    """A speaker per unit: the windows' labels voted over the unit's frames (-1: none).

    Units of one sub-window of one chunk take distinct speakers (Hungarian assignment on
    the votes); a unit no window reaches takes its local speaker's label in that chunk.
    """
    k = int(labels.max()) + 1 if len(labels) else 0
    out = np.full(len(units), -1, dtype=int)
    if k == 0:
        return out
    centres = np.array([(s + e) / 2 for s, e in windows.spans])
    times = seg.frame_times()
    alone = seg.activity.sum(axis=2) == 1
    votes = np.zeros((len(units), k))
    for i, u in enumerate(units):
        active = seg.activity[u.chunk, u.first : u.last, u.local] > 0
        pure = active & alone[u.chunk, u.first : u.last]
        use = pure if pure.sum() * seg.grid.step >= 0.3 else active
        t = times[u.chunk, u.first : u.last][use]
        distance = np.abs(t[:, None] - centres[None, :])
        nearest = np.argmin(distance, axis=1)
        close = distance[np.arange(len(t)), nearest] <= params.max_vote_distance_s
        np.add.at(votes[i], labels[nearest[close]], 1.0)
    # fall back on the local speaker's votes over the whole chunk
    whole: dict[tuple[int, int], np.ndarray] = {}
    for i, u in enumerate(units):
        whole.setdefault((u.chunk, u.local), np.zeros(k))
        whole[(u.chunk, u.local)] += votes[i]
    groups: dict[tuple[int, int], list[int]] = {}
    for i, u in enumerate(units):
        v = votes[i] if votes[i].any() else whole[(u.chunk, u.local)]
        votes[i] = v
        if v.any():
            groups.setdefault((u.chunk, u.first), []).append(i)
    for members in groups.values():
        v = votes[members]
        if len(members) <= k:
            rows, cols = linear_sum_assignment(-v)
            for r, c in zip(rows, cols, strict=True):
                out[members[r]] = c if v[r, c] > 0 else -1
        else:
            out[members] = np.argmax(v, axis=1)
    return out


def reconstruct(
    seg: Segmentation,
    counts: np.ndarray,
    step: float,
    units: list[Unit],
    unit_labels: np.ndarray,
    windows: Windows,
    window_labels: np.ndarray,
    params: Params,
) -> list[SpeakerTurn]:
    """Who talks in each global frame, into turns (overlapping where two talk at once).

    ``counts``: how many talk in each frame of ``step`` (``segmentation.frame_count``). A
    frame where one talks
    alone, near a clean window, takes that window's speaker (the most precise evidence of
    identity); the other frames rank the speakers by their units' activity averaged over
    the chunks (pyannote's reconstruction), and keep as many as talk.
    """
    k = max(int(unit_labels.max()) + 1 if len(unit_labels) else 0, len(set(window_labels.tolist())))
    if k == 0:
        return []
    n = len(counts)
    score = np.zeros((n, k))
    weight = np.zeros(n)
    hamming = np.hamming(seg.activity.shape[1])
    index = np.floor(seg.frame_times() / step).astype(int)
    inside = (index >= 0) & (index < n)
    for c in range(len(seg.starts)):
        np.add.at(weight, index[c][inside[c]], hamming[inside[c]])
    for i, u in enumerate(units):
        if unit_labels[i] < 0:
            continue
        span = np.arange(u.first, u.last)
        span = span[inside[u.chunk][span]]
        active = seg.activity[u.chunk, span, u.local]
        np.add.at(score[:, unit_labels[i]], index[u.chunk][span], active * hamming[span])
    score /= np.maximum(weight, 1e-9)[:, None]
    primary = _window_votes(windows, window_labels, n, step, params)
    use_window = (counts == 1) & (primary >= 0)
    score[use_window] = 0.0
    score[np.flatnonzero(use_window), primary[use_window]] = 1.0
    active = np.zeros((n, k), dtype=bool)
    ranked = np.argsort(-score, axis=1, kind="stable")
    rows = np.arange(n)
    for j in range(min(k, 3)):
        pick = ranked[:, j]
        on = (counts > j) & (score[rows, pick] > 0)
        active[rows[on], pick[on]] = True
    turns: list[SpeakerTurn] = []
    names = _names_by_first_appearance(active)
    for j in range(k):
        runs = merge_spans(mask_to_spans(active[:, j], step), params.merge_gap_s)
        for start, end in runs:
            if end - start < params.min_turn_s:
                continue
            end = min(end, seg.duration)
            if end > start:
                turns.append(SpeakerTurn(names[j], round(float(start), 3), round(float(end), 3)))
    turns.sort(key=lambda t: (t.start, t.speaker))
    return turns


def _window_votes(
    windows: Windows, labels: np.ndarray, n: int, step: float, params: Params
) -> np.ndarray:
    """Per global frame, the speaker of the nearest clean window's centre (-1: none near)."""
    out = np.full(n, -1, dtype=int)
    if len(windows.spans) == 0:
        return out
    centres = np.array([(s + e) / 2 for s, e in windows.spans])
    times = (np.arange(n) + 0.5) * step
    at = np.clip(np.searchsorted(centres, times), 1, len(centres)) - 1
    after = np.clip(at + 1, 0, len(centres) - 1)
    nearest = np.where(np.abs(centres[after] - times) < np.abs(centres[at] - times), after, at)
    close = np.abs(centres[nearest] - times) <= params.window_s / 2
    out[close] = labels[nearest[close]]
    return out


def _names_by_first_appearance(active: np.ndarray) -> dict[int, str]:
    firsts = [
        (int(np.argmax(active[:, j])) if active[:, j].any() else len(active), j)
        for j in range(active.shape[1])
    ]
    return {j: f"S{rank + 1}" for rank, (_, j) in enumerate(sorted(firsts))}


def cluster_windows(
    windows: Windows, *, num_speakers: int | None, min_speakers: int, max_speakers: int
) -> np.ndarray:
    """A speaker per window. Past ``MAX_CLUSTERED`` windows (about 13 minutes of speech),
    an evenly spread subset is clustered and the rest join their nearest centroid, so the
    affinity matrix and its eigen-decomposition stay bounded on hour-long calls."""
    n = len(windows.spans)
    if n == 0:
        return np.zeros(0, dtype=int)
    picked = np.unique(np.linspace(0, n - 1, min(n, MAX_CLUSTERED)).round().astype(int))
    sub = cluster(
        windows.embeddings[picked],
        [windows.spans[i] for i in picked],
        num_speakers=num_speakers,
        min_speakers=min_speakers,
        max_speakers=max_speakers,
        rules=CAMPP_RULES,
    )
    if len(picked) == n:
        return sub
    labels = np.argmax(windows.embeddings @ centroids(windows.embeddings[picked], sub).T, axis=1)
    labels[picked] = sub
    return labels


class OverlapEngine:
    """The method end to end: weights (prepared on first use), models, one call per file."""

    def __init__(self, cache_dir: Path, params: Params = Params(), device: str = "cpu") -> None:
        self.cache_dir = cache_dir
        self.device = device
        self.params = params
        self._network: Any = None
        self._encoder: CamPlusPlus | None = None
        self._lock = threading.Lock()
        self._available = False

    def available(self) -> bool:
        """Whether the weights are there or can be prepared; once true, not asked again
        (it is read for every call: the diarizer's method depends on it)."""
        self._available = self._available or weights.available(self.cache_dir)
        return self._available

    @property
    def loaded(self) -> bool:
        return self._network is not None and self._encoder is not None and self._encoder.loaded

    def load(self) -> None:
        with self._lock:
            if self.loaded:
                return
            found = weights.resolve(self.cache_dir)
            encoder = CamPlusPlus(found.campplus, self.device)
            encoder.load()
            self._network = load_network(found.segmentation, self.device)
            self._encoder = encoder

    def diarize(
        self,
        mono: np.ndarray,
        *,
        num_speakers: int | None = None,
        min_speakers: int = 1,
        max_speakers: int = 6,
        progress: Callable[[float, str], None] | None = None,
    ) -> Diarization:
        report = progress or (lambda fraction, message: None)
        self.load()
        assert self._encoder is not None
        params = self.params
        if len(mono) < SAMPLE_RATE // 10:
            return Diarization(turns=[], speakers=[], method="segmentation")
        report(0.05, "segmentation")
        seg = segment(self._network, mono, step_s=params.step_s)
        counts, step = frame_count(seg)
        report(0.35, "speaker embeddings")
        windows = clean_windows(counts, step, mono, self._encoder, params)
        report(0.85, f"clustering {len(windows.spans)} windows")
        labels = cluster_windows(
            windows, num_speakers=num_speakers, min_speakers=min_speakers, max_speakers=max_speakers
        )
        units = make_units(seg, params)
        unit_labels = label_units(seg, units, windows, labels, params)
        if not (unit_labels >= 0).any() and not len(labels) and units:
            unit_labels = np.zeros(len(units), dtype=int)  # no clean window: one voice
        turns = reconstruct(seg, counts, step, units, unit_labels, windows, labels, params)
        speakers = sorted({t.speaker for t in turns}, key=lambda s: int(s[1:]))
        return Diarization(
            turns=turns,
            speakers=speakers,
            method="segmentation",
            speech=union(Interval(t.start, t.end) for t in turns),
        )
