"""From labelled windows to speaker turns.

Every speech region is cut into short frames; a frame takes the label of the window of its
region whose centre is nearest (boundaries land within half a hop of the change). Runs
shorter than ``min_run_s`` are flicker and join a neighbour; pieces of one speaker that
touch or sit closer than ``merge_gap_s`` become one turn. Turns never leave the speech
regions except to bridge such a gap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.domain import SpeakerTurn

from .embedding import Window
from .vad import Span

Piece = tuple[float, float, int]  # start, end, label


def label_regions(
    regions: Sequence[Span],
    windows: Sequence[Window],
    labels: Sequence[int],
    step_s: float = 0.05,
) -> list[list[Piece]]:
    """Per region, its labelled pieces (consecutive frames with one label)."""
    centres = np.array([w.centre for w in windows]) if windows else np.zeros(0)
    by_region: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        by_region.setdefault(w.region, []).append(i)
    out: list[list[Piece]] = []
    for r, (s, e) in enumerate(regions):
        candidates = by_region.get(r) or list(range(len(windows)))
        if not candidates:
            out.append([])
            continue
        n = max(1, round((e - s) / step_s))
        edges = np.linspace(s, e, n + 1)
        mids = (edges[:-1] + edges[1:]) / 2
        cand = np.array(candidates)
        nearest = cand[np.argmin(np.abs(mids[:, None] - centres[cand][None, :]), axis=1)]
        frame_labels = np.asarray(labels)[nearest]
        pieces: list[Piece] = []
        for j, lab in enumerate(frame_labels.tolist()):
            if pieces and pieces[-1][2] == lab:
                pieces[-1] = (pieces[-1][0], float(edges[j + 1]), lab)
            else:
                pieces.append((float(edges[j]), float(edges[j + 1]), lab))
        out.append(pieces)
    return out


def absorb_short_runs(pieces: list[Piece], min_run_s: float) -> list[Piece]:
    """Within one region: the shortest run under ``min_run_s`` joins its longer neighbour, repeatedly."""
    pieces = list(pieces)
    while len(pieces) > 1:
        lengths = [e - s for s, e, _ in pieces]
        j = int(np.argmin(lengths))
        if lengths[j] >= min_run_s:
            break
        if j == 0:
            k = 1
        elif j == len(pieces) - 1:
            k = j - 1
        else:
            k = j - 1 if lengths[j - 1] >= lengths[j + 1] else j + 1
        s, e = min(pieces[j][0], pieces[k][0]), max(pieces[j][1], pieces[k][1])
        merged: Piece = (s, e, pieces[k][2])
        lo, hi = min(j, k), max(j, k)
        pieces[lo : hi + 1] = [merged]
        # neighbours that now share a label become one run
        out: list[Piece] = []
        for p in pieces:
            if out and out[-1][2] == p[2]:
                out[-1] = (out[-1][0], p[1], p[2])
            else:
                out.append(p)
        pieces = out
    return pieces


def pieces_to_turns(
    pieces: Sequence[Piece], merge_gap_s: float, names: dict[int, str] | None = None
) -> list[SpeakerTurn]:
    """Join same-label pieces closer than ``merge_gap_s``; name labels S1, S2... by first turn."""
    joined: list[Piece] = []
    for s, e, lab in sorted(pieces):
        if joined and joined[-1][2] == lab and s - joined[-1][1] <= merge_gap_s:
            joined[-1] = (joined[-1][0], max(joined[-1][1], e), lab)
        else:
            joined.append((s, e, lab))
    if names is None:
        names = {}
        for _, _, lab in joined:
            names.setdefault(int(lab), f"S{len(names) + 1}")
    return [
        SpeakerTurn(speaker=names[int(lab)], start=round(s, 3), end=round(e, 3))
        for s, e, lab in joined
    ]


def windows_to_turns(
    regions: Sequence[Span],
    windows: Sequence[Window],
    labels: Sequence[int],
    *,
    min_run_s: float = 0.5,
    merge_gap_s: float = 0.0,
) -> list[SpeakerTurn]:
    pieces: list[Piece] = []
    for region_pieces in label_regions(regions, windows, labels):
        pieces.extend(absorb_short_runs(region_pieces, min_run_s))
    return pieces_to_turns(pieces, merge_gap_s)
