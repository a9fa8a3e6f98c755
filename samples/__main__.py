"""``python -m samples list | demo OUT | render NAME OUT [options]``.

Every render writes ``OUT`` and ``OUT.truth.json``; a second run with the same script and
options finds the truth's hash unchanged and does nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from samples.catalog import load_script, script_names
from samples.model import CallTruth
from samples.synth import NOISE_KINDS, render_call, render_hash, render_params


def truth_path(out: Path) -> Path:
    return out.with_name(out.name + ".truth.json")


def is_current(out: Path, expected_hash: str) -> bool:
    truth = truth_path(out)
    if not (out.is_file() and truth.is_file()):
        return False
    try:
        return CallTruth.from_json(truth.read_text(encoding="utf-8")).render_hash == expected_hash
    except (ValueError, KeyError, TypeError):
        return False


def render_to(name: str, out: Path, **options: object) -> tuple[CallTruth | None, Path]:
    """Render script ``name`` to ``out`` unless it is already there; None when skipped."""
    script = load_script(name)
    params = render_params(out, **options)  # type: ignore[arg-type]
    if is_current(out, render_hash(script, **params)):
        return None, out
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    try:
        truth = render_call(script, tmp, **options)  # type: ignore[arg-type]
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    tmp_truth = truth_path(tmp)
    tmp_truth.write_text(truth.to_json() + "\n", encoding="utf-8")
    os.replace(tmp_truth, truth_path(out))
    return truth, out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m samples", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the bundled call scripts")
    demo = sub.add_parser("demo", help="the demo call as 8 kHz mu-law dual-channel wav")
    demo.add_argument("out", type=Path)
    render = sub.add_parser("render", help="render one script (codec from the suffix)")
    render.add_argument("name", choices=script_names())
    render.add_argument("out", type=Path)
    render.add_argument("--layout", choices=("mono", "stereo"), default="mono")
    render.add_argument("--sample-rate", type=int, default=16000)
    render.add_argument("--mulaw", action="store_true", help="8 kHz mu-law wav (telephony)")
    render.add_argument("--noise", type=float, default=None, metavar="SNR_DB")
    render.add_argument("--noise-kind", choices=NOISE_KINDS, default="white")
    render.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "list":
        for name in script_names():
            s = load_script(name)
            print(f"{name:14} {len(s.turns):3} turns  {'+'.join(s.speakers):6} {s.title}")
        return 0
    if args.command == "demo":
        options = {"layout": "stereo", "mulaw": True}
        name = "demo"
    else:
        name = args.name
        options = {
            "layout": args.layout,
            "sample_rate": args.sample_rate,
            "mulaw": args.mulaw,
            "noise_snr_db": args.noise,
            "noise_kind": args.noise_kind,
            "seed": args.seed,
        }
    defaults = {"sample_rate": 16000, "noise_snr_db": None, "noise_kind": "white", "seed": 0}
    try:
        truth, out = render_to(name, args.out, **{**defaults, **options})
    except (ValueError, RuntimeError) as exc:  # bad suffix/option, espeak-ng missing
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if truth is None:
        print(f"{out}: up to date")
    else:
        print(
            f"{out}: {truth.script}, {truth.duration:.1f} s, {truth.codec} {truth.sample_rate} Hz"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
