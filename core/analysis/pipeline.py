"""The analysis pipeline: decoded audio in, a finished call out.

diarization -> asr (+ words to speakers, utterances) -> roles (-> PII redaction) ->
sentiment -> embedding -> metrics -> llm, as :mod:`core.stages` says. Each stage runs
under one hook (:meth:`_CallRun.stage`: span, timing, progress events); the required stages
(diarization, asr) fail the call with a clear reason, the optional ones (sentiment,
embedding, llm) are retried once and then degrade into a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
from opentelemetry import trace

from core.analysis import conversation as conversation_metrics
from core.analysis.alignment import (
    SpeakerWord,
    assign_speakers,
    filter_channel_words,
    fit_to_turns,
    group_utterances,
)
from core.analysis.languages import is_english, unread
from core.analysis.pii import PiiRedactor, Redaction
from core.analysis.speaker_roles import assign_roles
from core.analysis.vocabulary import (
    ResolvedVocabulary,
    Vocabulary,
    VocabularySource,
    dropped_warning,
    replace_in_utterances,
    resolve,
)
from core.domain import (
    Audio,
    AudioInfo,
    CallAnalysis,
    Conversation,
    ConversationMetrics,
    Diarization,
    DiarizationOptions,
    Interval,
    ProgressEvent,
    Role,
    Sentiment,
    SentimentLabel,
    Speaker,
    StageInfo,
    TranscriptionOptions,
    Utterance,
)
from core.errors import CallyticsError, StageError
from core.ports import (
    CallAnalyzer,
    Diarizer,
    Embedder,
    SentimentAnalyzer,
    Transcriber,
    close_stage,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
# Diarization methods that see two people talking at once (mono utterances are fitted
# to their turns, so overlap and interruptions are counted as in dual-channel calls).
OVERLAP_AWARE = frozenset({"segmentation", "pyannote"})

EventSink = Callable[[ProgressEvent], None]


def _ignore(_event: ProgressEvent) -> None:
    return None


# A model's sentiment label carries no strength; where it overrides the sentiment stage's
# label the score is this one (where the two agree, the stage's score is kept).
MODEL_SENTIMENT_SCORE = {
    SentimentLabel.POSITIVE: 0.5,
    SentimentLabel.NEUTRAL: 0.0,
    SentimentLabel.NEGATIVE: -0.5,
}


def apply_model_roles(
    analysis: CallAnalysis,
    speakers: list[Speaker],
    utterances: list[Utterance],
    *,
    by_channel: bool,
) -> bool:
    """The model's roles replace the content rules' (never the channel map's), when they
    leave the call with at least one agent and one customer. True if any role changed."""
    roles = analysis.speaker_roles
    if by_channel or not roles:
        return False
    proposed = {s.id: roles.get(s.id, s.role) for s in speakers}
    if not {Role.AGENT, Role.CUSTOMER} <= set(proposed.values()):
        return False
    changed = any(proposed[s.id] != s.role for s in speakers)
    for s in speakers:
        s.role = proposed[s.id]
    for u in utterances:
        u.role = proposed.get(u.speaker, u.role)
    return changed


def apply_model_sentiment(analysis: CallAnalysis, utterances: list[Utterance]) -> bool:
    """The model's per-utterance labels replace the sentiment stage's. True if any changed."""
    labels = analysis.utterance_sentiment
    if not labels:
        return False
    changed = False
    for u in utterances:
        label = labels.get(u.index)
        if label is None or (u.sentiment is not None and u.sentiment.label == label):
            continue
        u.sentiment = Sentiment(label, MODEL_SENTIMENT_SCORE[label])
        changed = True
    return changed


@dataclass(frozen=True)
class AnalysisOptions:
    language: str | None = None
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    agent_channel: int | None = None  # None: the configured default
    redact_pii: bool | None = None  # None: the REDACT_PII setting
    # The call's own vocabulary (core/analysis/vocabulary.py): terms, [{spoken, written}].
    terms: tuple[str, ...] = ()
    replacements: tuple[dict[str, str], ...] = ()
    team: str | None = None  # set at job time from the call's metadata (its vocabulary)

    def diarization(self) -> DiarizationOptions:
        return DiarizationOptions(self.num_speakers, self.min_speakers, self.max_speakers)


@dataclass
class CallResult:
    audio: AudioInfo
    duration_s: float
    language: str
    speakers: list[Speaker]
    utterances: list[Utterance]
    metrics: ConversationMetrics
    analysis: CallAnalysis | None
    stages: dict[str, dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    utterance_vectors: np.ndarray | None = None
    call_vector: np.ndarray | None = None
    redactions: list[Redaction] | None = None  # None: redaction was off


def _call_vector(vectors: np.ndarray | None) -> np.ndarray | None:
    """The call's vector: the mean of its utterances', unit length."""
    if vectors is None or not len(vectors):
        return None
    mean: np.ndarray = vectors.mean(axis=0)
    return mean / (np.linalg.norm(mean) or 1.0)


def loudness_dbfs(
    samples: np.ndarray, intervals: list[Interval], rate: int = 16000
) -> float | None:
    """RMS level of ``samples`` over ``intervals`` in dB relative to full scale."""
    pieces = [samples[int(i.start * rate) : int(i.end * rate)] for i in intervals]
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        return None
    rms = float(np.sqrt(np.mean(np.square(np.concatenate(pieces), dtype=np.float64))))
    return round(20 * float(np.log10(max(rms, 1e-10))), 2)


_tracer = trace.get_tracer("callytics.pipeline")


def _stage_span(stage: str, engine: Any = None) -> Any:
    """A ``stage <name>`` span (a no-op until a tracer provider is set up)."""
    backend = "local"
    if engine is not None:
        try:
            backend = engine.info().backend
        except Exception:
            backend = "unknown"
    return _tracer.start_as_current_span(
        f"stage {stage}", attributes={"stage": stage, "backend": backend}
    )


class _CallRun:
    """One call going through the pipeline: what it reports, how long each stage took (the
    document's ``stages``), and its warnings. :meth:`stage` is the one hook every stage runs
    under: the span, the timing, the engine's description and the progress events."""

    def __init__(self, emit: EventSink) -> None:
        self.emit = emit
        self.stages: dict[str, dict[str, Any]] = {}
        self.warnings: list[str] = []

    def reporter(self, stage: str) -> Callable[[float, str], None]:
        def report(fraction: float, message: str = "") -> None:
            self.emit(ProgressEvent(stage, min(1.0, fraction), message))

        return report

    @contextlib.contextmanager
    def stage(
        self, name: str, engine: Any = None, *, starting: str = "", reported: bool = True
    ) -> Iterator[dict[str, Any]]:
        """Run the body as stage ``name``; what it puts in the yielded dict is recorded with
        the stage (an ``error`` key marks it failed). ``starting``: the first event's message
        (none without one); ``reported``: whether a done event follows. A stage that raises
        records nothing: the call fails with it."""
        if starting:
            self.emit(ProgressEvent(name, 0.0, starting))
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        with _stage_span(name, engine):
            yield extra
        entry: dict[str, Any] = {"seconds": round(time.perf_counter() - started, 3)}
        if engine is not None:
            info: StageInfo = engine.info()
            entry = {
                "backend": info.backend,
                "engine": info.engine,
                "model": info.model,
                "device": info.device,
                **info.extra,
                **entry,
            }
        self.stages[name] = {**entry, **extra}
        if reported:
            self.emit(ProgressEvent(name, 1.0, "failed" if "error" in extra else "done"))


class CallPipeline:
    def __init__(
        self,
        diarizer: Diarizer,
        transcriber: Transcriber,
        sentiment: SentimentAnalyzer,
        embedder: Embedder,
        analyzer: CallAnalyzer,
        *,
        agent_channel: int = 0,
        optional_attempts: int = 2,
        redact_pii: bool = False,
        redactor: PiiRedactor | None = None,
        vocabularies: VocabularySource | None = None,
    ) -> None:
        """``redact_pii``: the default when a call's options leave it out (REDACT_PII);
        ``vocabularies``: the stored custom vocabularies (none: only a call's own)."""
        self.vocabularies = vocabularies
        self.diarizer = diarizer
        self.transcriber = transcriber
        self.sentiment = sentiment
        self.embedder = embedder
        self.analyzer = analyzer
        self.agent_channel = agent_channel
        self.optional_attempts = max(1, optional_attempts)
        self.redact_pii = redact_pii
        self.redactor = redactor or PiiRedactor()

    def stage_engines(self) -> dict[str, Any]:
        return {
            "diarization": self.diarizer,
            "asr": self.transcriber,
            "sentiment": self.sentiment,
            "embedding": self.embedder,
            "llm": self.analyzer,
        }

    async def load(self) -> None:
        for engine in self.stage_engines().values():
            await engine.load()

    async def aclose(self) -> None:
        """Close the engines' gRPC channels; call it in the loop that used them."""
        for engine in self.stage_engines().values():
            await close_stage(engine)

    # ------------------------------------------------------------------------ run
    async def run(
        self,
        audio: Audio,
        options: AnalysisOptions | None = None,
        on_event: EventSink | None = None,
    ) -> CallResult:
        """The stages of core/stages.py, in their order (``decode`` is the caller's)."""
        options = options or AnalysisOptions()
        call = _CallRun(on_event or _ignore)
        diarization = await self._diarize(call, audio, options)
        utterances, language = await self._asr(call, audio, diarization, options)
        speakers, by_channel = self._roles(call, diarization, utterances, options, language)
        redactions = self._redact(call, utterances, options, language)
        await self._sentiment(call, utterances, language)
        vectors = await self._embed(call, utterances, language)
        metrics = self._metrics(call, audio, speakers, utterances)
        analysis = await self._llm(call, audio, language, speakers, utterances)
        if analysis is not None and self._apply_model(analysis, speakers, utterances, by_channel):
            # talk ratios by role, sentiment means and trends follow the model
            metrics = conversation_metrics.compute(utterances, speakers, audio.duration_s)
        self._model_sentiment_stands_in(call, analysis)
        call.emit(ProgressEvent("metrics", 1.0, "done"))
        return CallResult(
            audio=audio.info,
            duration_s=round(audio.duration_s, 3),
            language=language,
            speakers=speakers,
            utterances=utterances,
            metrics=metrics,
            analysis=analysis,
            stages=call.stages,
            warnings=call.warnings,
            utterance_vectors=vectors,
            call_vector=_call_vector(vectors),
            redactions=redactions,
        )

    # ---------------------------------------------------------------------- stages
    async def _diarize(self, call: _CallRun, audio: Audio, options: AnalysisOptions) -> Diarization:
        """Who spoke when (required)."""
        with call.stage("diarization", self.diarizer, starting="finding who spoke when") as rec:
            diarization = await self._required(
                "diarization",
                self.diarizer.diarize(audio, options.diarization(), call.reporter("diarization")),
            )
            rec.update(method=diarization.method, speakers=len(diarization.speakers))
        return diarization

    async def _asr(
        self, call: _CallRun, audio: Audio, diarization: Diarization, options: AnalysisOptions
    ) -> tuple[list[Utterance], str]:
        """What was said (required), its words given to the speakers, grouped in utterances."""
        with call.stage("asr", self.transcriber, starting="transcribing") as rec:
            vocabulary = await self._vocabulary(options)
            detected: dict[str, str] = {}
            utterances, language = await self._transcribe(
                audio,
                diarization,
                replace(options, terms=vocabulary.terms),
                call.reporter("asr"),
                detected,
            )
            rec["language"] = language
            if vocabulary:
                replaced = replace_in_utterances(utterances, vocabulary)
                rec["vocabulary"] = vocabulary.record(replaced)
                if vocabulary.dropped_terms:
                    call.warnings.append(dropped_warning(vocabulary))
            if len(set(detected.values())) > 1:  # dual-channel parties who spoke apart
                rec["languages"] = detected
        if not utterances:
            call.warnings.append("No speech was recognised in the recording.")
        return utterances, language

    def _roles(
        self,
        call: _CallRun,
        diarization: Diarization,
        utterances: list[Utterance],
        options: AnalysisOptions,
        language: str = "",
    ) -> tuple[list[Speaker], bool]:
        """Agent and customer: by channel in dual-channel calls, by content otherwise (its
        phrases are English: in another language, who speaks first is the agent).
        Returns the speakers and whether the roles came from the channels."""
        agent_channel = (
            self.agent_channel if options.agent_channel is None else options.agent_channel
        )
        by_channel = diarization.method == "channel"
        with call.stage("roles") as rec:
            speaker_ids = self._speaker_ids(diarization, utterances)
            roles = assign_roles(
                utterances,
                speaker_ids,
                channel_of=diarization.channel_of,
                agent_channel=agent_channel,
                language=language,
            )
            speakers = [
                Speaker(
                    id=s, role=roles.get(s, Role.UNKNOWN), channel=diarization.channel_of.get(s)
                )
                for s in speaker_ids
            ]
            for u in utterances:
                u.role = roles.get(u.speaker, Role.UNKNOWN)
            rec["method"] = (
                "channel" if by_channel else "content" if is_english(language) else "first speaker"
            )
        return speakers, by_channel

    def _redact(
        self,
        call: _CallRun,
        utterances: list[Utterance],
        options: AnalysisOptions,
        language: str = "",
    ) -> list[Redaction] | None:
        """PII redaction, when asked: before anything else reads the text (sentiment,
        embedding, the llm, the document), so the words it replaces go no further than this
        process. None: redaction was off."""
        if not (self.redact_pii if options.redact_pii is None else options.redact_pii):
            return None
        with call.stage("redaction", reported=False) as rec:
            redactions = self.redactor.redact(utterances)
            rec["entities"] = len(redactions)
            if not is_english(language):
                rec["language_supported"] = False
                call.warnings.append(
                    f"redaction: its cue words and spoken numbers are English (call language "
                    f"{language}); only runs of written digits (by their length) and written "
                    "e-mail addresses were found."
                )
        return redactions

    async def _sentiment(
        self, call: _CallRun, utterances: list[Utterance], language: str = ""
    ) -> None:
        """Sentiment per utterance (optional); none, and the document says why, in a
        language the engine does not read (a model in the llm stage may label it)."""
        texts = [u.text for u in utterances]
        unavailable = unread("sentiment", self.sentiment, language)
        if unavailable is not None:
            with call.stage("sentiment", self.sentiment) as rec:
                rec.update(unavailable[0])
            call.warnings.append(unavailable[1])
            return
        with call.stage("sentiment", self.sentiment) as rec:
            sentiments = (
                await self._optional(
                    "sentiment", call.warnings, lambda: self.sentiment.analyze(texts)
                )
                if texts
                else []
            )
            rec.update(self._error(sentiments, texts))
        for u, s in zip(utterances, sentiments or [], strict=False):
            u.sentiment = s

    async def _embed(
        self, call: _CallRun, utterances: list[Utterance], language: str = ""
    ) -> np.ndarray | None:
        """A vector per utterance, for search (optional). An English model still embeds a
        call in another language (search then matches its wording more than its meaning):
        the stage's entry and a warning say so."""
        texts = [u.text for u in utterances]
        weaker = unread("embedding", self.embedder, language) if texts else None
        if weaker is not None:
            call.warnings.append(
                f"embedding: {weaker[0]['reason']}; search over this call matches its "
                "wording more than its meaning."
            )
        with call.stage("embedding", self.embedder) as rec:
            if weaker is not None:
                rec["language_supported"] = False
            vectors = (
                await self._optional("embedding", call.warnings, lambda: self.embedder.embed(texts))
                if texts
                else None
            )
            rec.update(self._error(vectors, texts))
        return None if vectors is None else np.asarray(vectors, dtype=np.float32)

    def _metrics(
        self, call: _CallRun, audio: Audio, speakers: list[Speaker], utterances: list[Utterance]
    ) -> ConversationMetrics:
        """Talk time, silence, interruptions, latency, speed, loudness: computed before the
        llm, which reads them, and reported done after it (core/stages.py)."""
        with call.stage("metrics", reported=False):
            metrics = conversation_metrics.compute(utterances, speakers, audio.duration_s)
            speech = conversation_metrics.speech_intervals(utterances)
            for speaker in speakers:
                channel = speaker.channel
                samples = audio.channels[channel] if channel is not None else audio.mono
                speaker.loudness_dbfs = loudness_dbfs(samples, speech.get(speaker.id, []))
        return metrics

    async def _llm(
        self,
        call: _CallRun,
        audio: Audio,
        language: str,
        speakers: list[Speaker],
        utterances: list[Utterance],
    ) -> CallAnalysis | None:
        """Summary, topics, reason, outcome, conflict, action items (optional)."""
        analysis = None
        with call.stage("llm", self.analyzer) as rec:
            if utterances:
                conversation = Conversation(utterances, speakers, language, audio.duration_s)
                analysis = await self._optional(
                    "llm", call.warnings, lambda: self.analyzer.analyze(conversation)
                )
            rec.update(self._error(analysis, [u.text for u in utterances]))
        if analysis is not None:
            call.warnings.extend(analysis.warnings)
        return analysis

    @staticmethod
    def _apply_model(
        analysis: CallAnalysis,
        speakers: list[Speaker],
        utterances: list[Utterance],
        by_channel: bool,
    ) -> bool:
        """The model's roles and sentiment where it gave them; True if anything changed."""
        changed = apply_model_roles(analysis, speakers, utterances, by_channel=by_channel)
        return apply_model_sentiment(analysis, utterances) or changed

    @staticmethod
    def _model_sentiment_stands_in(call: _CallRun, analysis: CallAnalysis | None) -> None:
        """Where the sentiment stage could not read the call's language and the model
        labelled the utterances, its entry and its warning say so."""
        entry = call.stages.get("sentiment") or {}
        if entry.get("available") is not False or analysis is None:
            return
        if not analysis.utterance_sentiment:
            return
        entry["labelled_by"] = "llm"
        note = f"sentiment: labelled by the llm stage's model ({entry.get('reason', '')})."
        call.warnings[:] = [
            note if w.startswith("sentiment is unavailable:") else w for w in call.warnings
        ]

    # -------------------------------------------------------------------- helpers
    async def _vocabulary(self, options: AnalysisOptions) -> ResolvedVocabulary:
        """The call's own vocabulary merged with its team's and the global ones."""
        stored: list[Vocabulary] = []
        if self.vocabularies is not None:
            stored = await asyncio.to_thread(self.vocabularies.for_call, options.team)
        return resolve(options.terms, options.replacements, stored)

    @staticmethod
    def _error(value: Any, texts: list[str]) -> dict[str, Any]:
        if value is None and texts:
            return {"error": "failed; see warnings"}
        return {}

    @staticmethod
    def _speaker_ids(diarization: Diarization, utterances: list[Utterance]) -> list[str]:
        ids = list(diarization.speakers)
        for u in utterances:
            if u.speaker not in ids:
                ids.append(u.speaker)
        # A diarized speaker who said no recognisable word is not a speaker of the call.
        spoken = {u.speaker for u in utterances}
        return [s for s in ids if s in spoken]

    async def _required(self, stage: str, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except CallyticsError:
            raise
        except Exception as exc:
            log.exception("%s failed", stage)
            raise StageError(stage, str(exc) or type(exc).__name__) from exc

    async def _optional(
        self, stage: str, warnings: list[str], call: Callable[[], Awaitable[T]]
    ) -> T | None:
        last: Exception | None = None
        for attempt in range(1, self.optional_attempts + 1):
            try:
                return await call()
            except Exception as exc:
                last = exc
                log.warning(
                    "%s failed (attempt %d/%d): %s", stage, attempt, self.optional_attempts, exc
                )
        warnings.append(f"{stage} is missing: {last}")
        return None

    async def _transcribe(
        self,
        audio: Audio,
        diarization: Diarization,
        options: AnalysisOptions,
        progress: Callable[[float, str], None],
        detected: dict[str, str] | None = None,
    ) -> tuple[list[Utterance], str]:
        """``detected``: filled with each dual-channel speaker's own detected language."""
        asr_options = TranscriptionOptions(language=options.language, terms=tuple(options.terms))
        if diarization.method == "channel" and diarization.channel_of:
            # Dual-channel: transcribe each party's own channel, so overlapping speech
            # is heard; words outside the party's turns but inside the other's are bleed.
            assigned: list[SpeakerWord] = []
            languages: list[tuple[int, str]] = []
            items = sorted(diarization.channel_of.items(), key=lambda kv: kv[1])
            for n, (speaker, channel) in enumerate(items):

                def part(f: float, m: str, n: int = n) -> None:
                    progress((n + f) / len(items), m)

                transcript = await self._required(
                    "asr", self.transcriber.transcribe(audio.channels[channel], asr_options, part)
                )
                words = filter_channel_words(transcript.words, speaker, diarization.turns)
                languages.append((len(words), transcript.language))
                if detected is not None and words:
                    detected[speaker] = transcript.language
                assigned += [SpeakerWord(speaker, w) for w in words]
            language = max(languages)[1] if languages else (options.language or "")
            return group_utterances(assigned), language
        transcript = await self._required(
            "asr", self.transcriber.transcribe(audio.mono, asr_options, progress)
        )
        default = diarization.speakers[0] if diarization.speakers else "S1"
        assigned = assign_speakers(transcript.words, diarization.turns, default_speaker=default)
        utterances = group_utterances(assigned)
        if diarization.method in OVERLAP_AWARE:
            utterances = fit_to_turns(utterances, diarization.turns)
        return utterances, transcript.language
