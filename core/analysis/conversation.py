"""Conversation metrics (SPEC section 4), computed from the turns; no model needed.

Definitions:
- talk time: the union of a speaker's speech intervals (their words, with pauses under
  ``WORD_GAP_FILL_S`` bridged); non-talk time: the call's span that nobody covers.
- overlap: time in which two or more speakers talk at once.
- interruption: a turn that starts while another speaker's turn is still running (at
  least ``MIN_INTERRUPT_OVERLAP_S`` before it ends: word timestamps are not more precise
  than that) and lasts beyond it; back-channel turns under ``BACKCHANNEL_S`` do not
  count; credited to the speaker who starts it, once per turn.
- response latency: the gap between the end of a customer turn and the start of the
  next agent turn (when the agent turn directly follows; overlapping starts count 0).
- words per minute: words / talk minutes, per speaker.
- sentiment by quarter: mean utterance score per role in each quarter of the call
  (by utterance midpoint), ``None`` where a quarter has no utterance of that role.
- customer sentiment trend: the least-squares slope of the customer's utterance scores
  over call time normalised to [0, 1], i.e. the change in score from start to end of
  the call; ``None`` with fewer than two customer utterances.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from core.domain import ConversationMetrics, Interval, Role, Speaker, Utterance

WORD_GAP_FILL_S = 0.5
BACKCHANNEL_S = 1.0
MIN_INTERRUPT_OVERLAP_S = 0.2


def union(intervals: Iterable[Interval], fill_gap: float = 0.0) -> list[Interval]:
    """Merge overlapping intervals (and gaps up to ``fill_gap``)."""
    merged: list[Interval] = []
    for iv in sorted(intervals, key=lambda i: i.start):
        if iv.end <= iv.start:
            continue
        if merged and iv.start <= merged[-1].end + fill_gap:
            if iv.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, iv.end)
        else:
            merged.append(iv)
    return merged


def total(intervals: Iterable[Interval]) -> float:
    return sum(i.duration for i in intervals)


def speech_intervals(utterances: Sequence[Utterance]) -> dict[str, list[Interval]]:
    """Each speaker's speech: the union of their words, small pauses bridged.

    A mono call's utterance fitted to an overlap-aware diarizer's turn
    (``alignment.fit_to_turns``) counts from its fitted start to its fitted end.
    """
    raw: dict[str, list[Interval]] = defaultdict(list)
    for u in utterances:
        if u.words:
            first, last = min(w.start for w in u.words), max(w.end for w in u.words)
            raw[u.speaker].extend(
                Interval(max(w.start, u.start), min(w.end, u.end))
                for w in u.words
                if min(w.end, u.end) > max(w.start, u.start)
            )
            if u.start < first:
                raw[u.speaker].append(Interval(u.start, first))
            if u.end > last:
                raw[u.speaker].append(Interval(last, u.end))
        else:
            raw[u.speaker].append(Interval(u.start, u.end))
    return {s: union(ivs, WORD_GAP_FILL_S) for s, ivs in raw.items()}


def overlap_time(per_speaker: dict[str, list[Interval]]) -> float:
    """Time in which at least two speakers talk (sweep over interval edges)."""
    events: list[tuple[float, int]] = []
    for ivs in per_speaker.values():
        for iv in ivs:
            events += [(iv.start, 1), (iv.end, -1)]
    events.sort(key=lambda e: (e[0], e[1]))
    active, last, overlap = 0, 0.0, 0.0
    for t, delta in events:
        if active >= 2:
            overlap += t - last
        active += delta
        last = t
    return overlap


def interrupting(utterances: Sequence[Utterance]) -> list[Utterance]:
    """The turns that interrupt another speaker's (see module docstring), in time order
    (then by index: the same whatever order they come in)."""
    found = []
    ordered = sorted(utterances, key=lambda u: (u.start, u.index))
    for i, u in enumerate(ordered):
        if u.end - u.start < BACKCHANNEL_S:
            continue
        if any(
            v.speaker != u.speaker
            and v.start < u.start < v.end - MIN_INTERRUPT_OVERLAP_S
            and u.end > v.end
            for v in ordered[:i]
        ):
            found.append(u)
    return found


def interruptions(utterances: Sequence[Utterance]) -> dict[str, int]:
    """Count interruptions per speaker (see module docstring)."""
    return dict(Counter(u.speaker for u in interrupting(utterances)))


def response_latencies(utterances: Sequence[Utterance], roles: dict[str, Role]) -> list[float]:
    ordered = sorted(utterances, key=lambda u: u.start)
    out = []
    for prev, nxt in itertools.pairwise(ordered):
        if roles.get(prev.speaker) == Role.CUSTOMER and roles.get(nxt.speaker) == Role.AGENT:
            out.append(max(0.0, nxt.start - prev.end))
    return out


def _mean(values: Sequence[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def sentiment_by_quarter(
    utterances: Sequence[Utterance], roles: dict[str, Role], duration: float
) -> dict[str, list[float | None]]:
    buckets: dict[str, list[list[float]]] = {
        r.value: [[], [], [], []] for r in (Role.AGENT, Role.CUSTOMER)
    }
    span = duration if duration > 0 else 1.0
    for u in utterances:
        role = roles.get(u.speaker, Role.UNKNOWN)
        if u.sentiment is None or role.value not in buckets:
            continue
        q = min(3, int(4 * ((u.start + u.end) / 2) / span))
        buckets[role.value][q].append(u.sentiment.score)
    return {role: [_mean(b) for b in quarters] for role, quarters in buckets.items()}


def sentiment_trend(
    utterances: Sequence[Utterance], roles: dict[str, Role], duration: float, role: Role
) -> float | None:
    points = [
        ((u.start + u.end) / 2 / (duration or 1.0), u.sentiment.score)
        for u in utterances
        if u.sentiment is not None and roles.get(u.speaker) == role
    ]
    if len(points) < 2:
        return None
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    if np.ptp(x) == 0:
        return None
    slope = np.polyfit(x, y, 1)[0]
    return round(float(slope), 4)


def compute(
    utterances: Sequence[Utterance],
    speakers: Sequence[Speaker],
    duration: float,
) -> ConversationMetrics:
    """Fill each speaker's stats in place and return the call-level metrics."""
    roles = {s.id: s.role for s in speakers}
    per_speaker = speech_intervals(utterances)
    everyone = union([iv for ivs in per_speaker.values() for iv in ivs])
    talk = total(everyone)
    span = max(duration, everyone[-1].end if everyone else 0.0)
    gaps = [b.start - a.end for a, b in itertools.pairwise(everyone)]
    talk_by = {s: total(ivs) for s, ivs in per_speaker.items()}
    talk_sum = sum(talk_by.values())
    cuts = interrupting(utterances)
    inter = Counter(u.speaker for u in cuts)
    words_by: dict[str, int] = defaultdict(int)
    scores_by: dict[str, list[float]] = defaultdict(list)
    for u in utterances:
        words_by[u.speaker] += len(u.words)
        if u.sentiment is not None:
            scores_by[u.speaker].append(u.sentiment.score)
    for s in speakers:
        s.talk_time_s = round(talk_by.get(s.id, 0.0), 3)
        # The unrounded time: a sole speaker's ratio is exactly 1, never 1.0005.
        s.talk_ratio = round(talk_by.get(s.id, 0.0) / talk_sum, 4) if talk_sum else 0.0
        minutes = s.talk_time_s / 60
        s.words_per_minute = round(words_by[s.id] / minutes, 1) if minutes else 0.0
        s.interruptions = inter.get(s.id, 0)
        s.sentiment_mean = _mean(scores_by[s.id])

    agent_talk = sum(talk_by.get(s.id, 0.0) for s in speakers if s.role == Role.AGENT)
    has_agent = any(s.role == Role.AGENT for s in speakers)
    latencies = response_latencies(utterances, roles)
    non_talk = max(0.0, span - talk)
    return ConversationMetrics(
        talk_time_s=round(talk, 3),
        non_talk_time_s=round(non_talk, 3),
        silence_ratio=round(non_talk / span, 4) if span else 0.0,
        longest_silence_s=round(max(gaps, default=0.0), 3),
        overlap_s=round(overlap_time(per_speaker), 3),
        interruptions=sum(inter.values()),
        agent_talk_ratio=round(agent_talk / talk_sum, 4) if has_agent and talk_sum else None,
        mean_response_latency_s=_mean(latencies),
        sentiment_by_quarter=sentiment_by_quarter(utterances, roles, span),
        customer_sentiment_trend=sentiment_trend(utterances, roles, span, Role.CUSTOMER),
        interruption_utterances=[u.index for u in cuts],
    )
