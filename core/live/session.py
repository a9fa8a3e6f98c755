"""One live call: its audio file, a transcript stream per channel, and what is judged as it runs.

Audio frames go to the call's WAV file first (nothing received is lost), then to one
:class:`core.ports.TranscriptStream` per channel (two channels: one per side, so no
diarization is needed). Each channel has a worker that takes all the audio queued for it,
pushes it, and applies the update:

- committed and tentative words of an utterance still being spoken: a ``partial`` event;
- at an endpoint (a pause), the words since the last one become a ``final`` utterance, with
  its speaker and role (by channel), PII found in it (redacted in place when the call asked
  for redaction), and its sentiment; then the running ``metrics``;
- after every update, the ``alert`` checks: the live-judgeable custom categories over the
  draft so far (committed words count at once, so a phrase alerts before its utterance
  ends), a customer's negative streak, and the PII just found.

A category is live-judgeable when each of its conditions can only become true as the call
grows: no ``negate`` and no phrase ``within_last_s`` (those are judged after the call, on
the stored call). Sentiment conditions are judged on the means so far, and silence on the
longest silence so far, the one going on now included. Each category alerts once per call.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from core.analysis import conversation, pii
from core.analysis.alignment import join_words
from core.analysis.document import utterance_dict
from core.analysis.languages import reads
from core.analysis.speaker_roles import assign_roles
from core.categories.rules import Condition, PhraseCondition, matches
from core.domain import (
    MODEL_SAMPLE_RATE,
    Role,
    SentimentLabel,
    Speaker,
    StreamUpdate,
    TranscriptionOptions,
    Utterance,
    Word,
)
from core.live.audio import LiveFormat, WavRecorder
from core.live.events import LiveEvent, LiveEventType
from core.live.speakers import IncrementalSpeakers
from core.ports import SentimentAnalyzer, StreamingTranscriber, TranscriptStream, VoiceEmbedder

log = logging.getLogger(__name__)

NEGATIVE_STREAK = 3  # consecutive negative customer utterances that raise an alert
# A channel that fell behind (a client streaming faster than real time) catches up in pushes
# of at most this much audio: a bounded window to decode, and under gRPC's message limit.
MAX_PUSH_S = 5.0
# The running metrics (silence now, the call's length) are refreshed, sent and saved this
# often (call time) between utterances.
METRICS_EVERY_S = 5.0
# A mono call keeps this much of its latest audio for the voices of its utterances.
VOICE_AUDIO_S = 120.0

Emit = Callable[[LiveEvent], Awaitable[None]]


@dataclass(frozen=True)
class LiveOptions:
    language: str | None = None
    agent_channel: int = 0  # two channels: the agent's; the other is the customer's
    redact_pii: bool = False
    agent: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # kept with the live call


@dataclass(frozen=True)
class LiveCategory:
    name: str
    description: str
    conditions: Sequence[Condition]


def judgeable(conditions: Sequence[Condition]) -> bool:
    """Whether a rule can be judged while the call runs (see the module docstring)."""
    return all(
        not c.negate and not (isinstance(c, PhraseCondition) and c.within_last_s is not None)
        for c in conditions
    )


@dataclass
class _Channel:
    index: int
    speaker: str
    role: Role
    stream: TranscriptStream | None = None
    pending: list[np.ndarray] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    words: list[Word] = field(default_factory=list)  # committed, utterance still open
    tentative: list[Word] = field(default_factory=list)
    heard_until: float = 0.0  # stream time the channel's transcript has reached
    closing: bool = False  # no more audio: finish the stream once the queue is empty
    task: asyncio.Task[None] | None = None


class LiveSession:
    def __init__(
        self,
        live_id: str,
        fmt: LiveFormat,
        options: LiveOptions,
        recorder: WavRecorder,
        *,
        transcriber: StreamingTranscriber,
        sentiment: SentimentAnalyzer | None,
        categories: Sequence[LiveCategory],
        emit: Emit,
        save: Callable[[dict[str, Any], float], Awaitable[None]],
        actor: str | None = None,
        voices: VoiceEmbedder | None = None,
    ) -> None:
        self.live_id = live_id
        self.actor = actor  # who streams it: the stored call's created_by
        self.format = fmt
        self.options = options
        self.recorder = recorder
        self.transcriber = transcriber
        self.sentiment = sentiment
        self.categories = [c for c in categories if judgeable(c.conditions)]
        self._emit = emit
        self._save = save
        self.listeners: set[asyncio.Queue[LiveEvent]] = set()
        # A reconnect with this call's id takes it over: the connection holding it is told
        # (``superseded``) and lets go (``released``) before the new one attaches.
        self.superseded = asyncio.Event()
        self.released = asyncio.Event()
        self.utterances: list[Utterance] = []
        self.alerts: list[dict[str, Any]] = []
        self.metrics: dict[str, Any] = {}
        self.language = options.language or ""
        self.seq = 0
        self.fired: set[str] = set()
        self._streak = 0
        self._metrics_at = 0.0  # call time of the last metrics event
        self._unsaved = False  # finals or alerts not in the saved snapshot yet
        self._offset = 0.0  # stream time at which this connection's audio starts (resume)
        self._lock = asyncio.Lock()  # finals, alerts and snapshots of both channels, in turn
        self._failed: BaseException | None = None
        agent = options.agent_channel
        if fmt.channels == 2:
            roles = [Role.AGENT if c == agent else Role.CUSTOMER for c in range(2)]
        else:
            roles = [Role.UNKNOWN]
        self.channels = [_Channel(c, f"S{c + 1}", roles[c]) for c in range(fmt.channels)]
        # A mono call: speaker turns from voice embeddings clustered as they come, roles
        # from what each speaker says (both may change as the call goes on).
        self.voices = voices if fmt.channels == 1 else None
        self.clusters = IncrementalSpeakers() if self.voices is not None else None
        self.roles: dict[str, Role] = {}
        self._audio: list[np.ndarray] = []
        self._audio_start = 0  # sample index of self._audio's first sample

    # ------------------------------------------------------------------ lifecycle
    @property
    def received_s(self) -> float:
        return self.recorder.seconds

    async def start(self) -> None:
        """Open a stream per channel and start its worker (again, after a resume)."""
        self._offset = self.received_s
        self._failed = None
        options = TranscriptionOptions(language=self.options.language)
        for channel in self.channels:
            channel.stream = await self.transcriber.open_stream(options)
            channel.pending.clear()
            channel.ready = asyncio.Event()
            channel.task = asyncio.create_task(self._run(channel))

    async def feed(self, data: bytes) -> None:
        """One frame from the client: kept on disk, then queued for each channel's stream."""
        if self._failed is not None:
            raise self._failed
        samples = self.format.decode(data)  # a malformed frame raises before it is kept
        await asyncio.to_thread(self.recorder.write, data)
        if self.clusters is not None:
            self._keep_audio(samples[0])
        for channel in self.channels:
            channel.pending.append(samples[channel.index])
            channel.ready.set()

    async def stop(self) -> None:
        """Finish every channel's stream (what is left is committed) and stop the workers."""
        tasks = [c.task for c in self.channels if c.task is not None]
        for channel in self.channels:
            channel.task = None
            channel.closing = True
            channel.ready.set()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for channel in self.channels:
            channel.closing = False
            if channel.stream is not None:
                await channel.stream.aclose()
                channel.stream = None

    # ------------------------------------------------------------------ the workers
    async def _run(self, channel: _Channel) -> None:
        stream = channel.stream
        assert stream is not None
        try:
            while True:
                await channel.ready.wait()
                channel.ready.clear()
                chunks, channel.pending = channel.pending, []
                audio = [c for c in chunks if len(c)]
                if audio:
                    queued = np.concatenate(audio)
                    step = int(MAX_PUSH_S * MODEL_SAMPLE_RATE)
                    for at in range(0, len(queued), step):
                        await self._apply(channel, await stream.push(queued[at : at + step]))
                if channel.closing and not channel.pending:
                    break
            await self._apply(channel, await stream.finish())
        except Exception as exc:  # the ASR stage failed: the client hears of it on its next frame
            log.exception("live %s: channel %d failed", self.live_id, channel.index)
            self._failed = exc

    def _shift(self, words: Sequence[Word]) -> list[Word]:
        if not self._offset:
            return list(words)
        o = self._offset
        return [
            Word(w.text, round(w.start + o, 3), round(w.end + o, 3), w.probability) for w in words
        ]

    async def _apply(self, channel: _Channel, update: StreamUpdate) -> None:
        async with self._lock:
            self.language = self.language or update.language
            channel.heard_until = self._offset + update.stream_time
            committed = self._shift(update.committed)
            tentative = self._shift(update.tentative)
            changed = bool(committed) or [w.text for w in tentative] != [
                w.text for w in channel.tentative
            ]
            channel.tentative = tentative
            found: list[pii.Redaction] = []
            ends = [*update.ends, len(committed)] if update.endpoint else list(update.ends)
            done = 0
            for end in ends:  # the utterances that ended in this update, in order
                channel.words.extend(committed[done:end])
                done = end
                if channel.words:
                    words, channel.words = channel.words, []
                    found += await self._final(channel, words)
            channel.words.extend(committed[done:])
            if not update.endpoint and changed and (channel.words or channel.tentative):
                await self._partial(channel)
            await self._judge(found)
            if self.now - self._metrics_at >= METRICS_EVERY_S:
                self._update_metrics()
                await self._publish(LiveEventType.METRICS, {"metrics": self.metrics})
                self._unsaved = True
            if self._unsaved:  # once per update, whatever it ended, alerted or refreshed
                self._unsaved = False
                await self._save(self.snapshot(), self.received_s)

    async def _partial(self, channel: _Channel) -> None:
        words = channel.words + channel.tentative
        await self._publish(
            LiveEventType.PARTIAL,
            {
                "channel": channel.index,
                # A mono call's speaker is known once the utterance ends (by its voice).
                "speaker": "" if self.clusters is not None else channel.speaker,
                "role": channel.role.value,
                "start": words[0].start,
                "end": words[-1].end,
                "text": join_words(words),
                "committed": join_words(channel.words),
                "words": [
                    {
                        "word": w.text,
                        "start": w.start,
                        "end": w.end,
                        "committed": i < len(channel.words),
                    }
                    for i, w in enumerate(words)
                ],
            },
        )

    async def _final(self, channel: _Channel, words: list[Word]) -> list[pii.Redaction]:
        utterance = Utterance(
            index=len(self.utterances),
            speaker=channel.speaker,
            start=words[0].start,
            end=words[-1].end,
            text=join_words(words),
            words=words,
            role=channel.role,
        )
        if self.clusters is not None:
            await self._place(utterance)
        # PII: found on a copy; the utterance itself is redacted when the call asked for it.
        probe = copy.deepcopy(utterance)
        found = pii.PiiRedactor().redact([probe])
        if self.options.redact_pii and found:
            utterance = probe
        # An English-only engine gives a call in another language no sentiment, not a guess.
        if self.sentiment is not None and utterance.text and reads(self.sentiment, self.language):
            try:
                utterance.sentiment = (await self.sentiment.analyze([utterance.text]))[0]
            except Exception:  # sentiment is optional: the utterance goes out without it
                log.exception("live %s: sentiment failed", self.live_id)
        self.utterances.append(utterance)
        document = utterance_dict(utterance)
        await self._publish(LiveEventType.FINAL, {"channel": channel.index, "utterance": document})
        self._update_metrics()
        await self._publish(LiveEventType.METRICS, {"metrics": self.metrics})
        if utterance.role == Role.CUSTOMER and utterance.sentiment is not None:
            if utterance.sentiment.label == SentimentLabel.NEGATIVE:
                self._streak += 1
                if self._streak == NEGATIVE_STREAK:
                    await self._alert(
                        "negative_streak",
                        f"The customer's last {NEGATIVE_STREAK} utterances were negative.",
                        utterance=utterance.index,
                    )
            else:
                self._streak = 0
        return found

    # ------------------------------------------------------------------ mono speakers
    def _keep_audio(self, samples: np.ndarray) -> None:
        self._audio.append(samples)
        keep = int(VOICE_AUDIO_S * MODEL_SAMPLE_RATE)
        held = sum(len(a) for a in self._audio)
        while self._audio and held - len(self._audio[0]) >= keep:
            held -= len(self._audio[0])
            self._audio_start += len(self._audio.pop(0))

    def _stretch(self, start: float, end: float) -> np.ndarray:
        held = np.concatenate(self._audio) if self._audio else np.zeros(0, np.float32)
        first = max(0, int(start * MODEL_SAMPLE_RATE) - self._audio_start)
        last = max(0, int(end * MODEL_SAMPLE_RATE) - self._audio_start)
        return held[first:last]

    async def _place(self, utterance: Utterance) -> None:
        """A mono call's utterance: its speaker by voice, then every speaker's role again."""
        assert self.clusters is not None and self.voices is not None
        vector = None
        if utterance.end - utterance.start >= self.clusters.min_s:
            stretch = self._stretch(utterance.start, utterance.end)
            if len(stretch) >= int(self.clusters.min_s * MODEL_SAMPLE_RATE):
                try:
                    vector = (await self.voices.embed_voices([stretch]))[0]
                except Exception:  # no voice: the speaker by turn-taking instead
                    log.exception("live %s: voice embedding failed", self.live_id)
        utterance.speaker = self.clusters.assign(vector)
        everyone = [*self.utterances, utterance]
        self.roles = assign_roles(
            everyone, self.clusters.speakers, channel_of=None, language=self.language
        )
        for u in everyone:
            u.role = self.roles.get(u.speaker, Role.UNKNOWN)

    # ------------------------------------------------------------------ judging
    @property
    def now(self) -> float:
        """How far into the call every channel's transcript has got."""
        return min((c.heard_until for c in self.channels), default=0.0)

    def _speakers(self) -> list[Speaker]:
        if self.clusters is not None:
            said = {u.speaker for u in self.utterances}
            return [
                Speaker(id=s, role=self.roles.get(s, Role.UNKNOWN))
                for s in self.clusters.speakers
                if s in said
            ]
        return [
            Speaker(id=c.speaker, role=c.role, channel=c.index if len(self.channels) > 1 else None)
            for c in self.channels
        ]

    def _update_metrics(self) -> None:
        speakers = self._speakers()
        ordered = sorted(self.utterances, key=lambda u: u.start)
        computed = conversation.compute(ordered, speakers, self.now)
        self._metrics_at = self.now
        last_speech = max((u.end for u in self.utterances), default=0.0)
        self.metrics = {
            **asdict(computed),
            "duration_s": round(self.now, 3),
            "silence_now_s": round(max(0.0, self.now - last_speech), 3),
            "speakers": [
                {
                    "id": s.id,
                    "role": s.role.value,
                    "talk_time_s": s.talk_time_s,
                    "talk_ratio": s.talk_ratio,
                    "words_per_minute": s.words_per_minute,
                    "interruptions": s.interruptions,
                    "sentiment_mean": s.sentiment_mean,
                }
                for s in speakers
            ],
        }

    def draft(self) -> dict[str, Any]:
        """The call so far as a document the category rules read: the final utterances,
        the open ones' committed words, the speakers' means, the metrics with the silence
        going on now counted."""
        utterances = [utterance_dict(u) for u in self.utterances]
        for channel in self.channels:
            if channel.words:
                utterances.append(
                    {
                        "speaker": channel.speaker,
                        "role": channel.role.value,
                        "start": channel.words[0].start,
                        "end": channel.words[-1].end,
                        "text": join_words(channel.words),
                        "words": [
                            {"word": w.text, "start": w.start, "end": w.end} for w in channel.words
                        ],
                    }
                )
        metrics = dict(self.metrics)
        talking = any(c.words or c.tentative for c in self.channels)
        silence_now = (
            0.0
            if talking
            else max(0.0, self.now - max((u["end"] for u in utterances), default=0.0))
        )
        metrics["longest_silence_s"] = max(
            float(metrics.get("longest_silence_s") or 0.0), silence_now
        )
        return {
            "audio": {"duration_s": self.now},
            "utterances": utterances,
            "speakers": metrics.get("speakers", []),
            "metrics": metrics,
        }

    async def _judge(self, found: Sequence[pii.Redaction]) -> None:
        for redaction in found:
            await self._alert(
                "pii",
                f"{redaction.type.replace('_', ' ').lower()} said on the call",
                utterance=redaction.utterance,
                pii_type=redaction.type,
                start=redaction.start,
                end=redaction.end,
            )
        pending = [c for c in self.categories if c.name not in self.fired]
        if not pending:
            return
        document = self.draft()
        for category in pending:
            if matches(category.conditions, document):
                self.fired.add(category.name)
                await self._alert(
                    "category",
                    category.description or f"The call matches {category.name}.",
                    category=category.name,
                )

    async def _alert(self, kind: str, message: str, **details: Any) -> None:
        heard = max((c.heard_until for c in self.channels), default=0.0)
        alert = {"kind": kind, "message": message, "at_s": round(heard, 3), **details}
        self.alerts.append(alert)
        await self._publish(LiveEventType.ALERT, {"alert": alert})

    # ------------------------------------------------------------------ events
    async def _publish(self, kind: LiveEventType, data: dict[str, Any]) -> LiveEvent:
        self.seq += 1
        event = LiveEvent(self.live_id, self.seq, kind, datetime.now(UTC), data)
        for queue in list(self.listeners):
            queue.put_nowait(event)
        try:
            await self._emit(event)
        except Exception as exc:  # the bus (Redis) is down: the row still has the finals
            log.warning("live %s: could not publish %s (%s)", self.live_id, kind, exc)
        if kind in (LiveEventType.FINAL, LiveEventType.ALERT):
            self._unsaved = True  # the snapshot keeps these: saved at the end of the update
        return event

    async def publish(self, kind: LiveEventType, data: dict[str, Any]) -> LiveEvent:
        async with self._lock:
            return await self._publish(kind, data)

    def snapshot(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "language": self.language,
            "utterances": [utterance_dict(u) for u in self.utterances],
            "alerts": list(self.alerts),
            "metrics": self.metrics,
            "fired": sorted(self.fired),
        }
