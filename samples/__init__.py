"""Synthetic customer-service calls with exact ground truth (espeak-ng voices).

Used by ``make demo``, by tests (the planted turns are the truth) and by benchmarks. The
rendered audio is never committed: render it with ``python -m samples``.
"""

from samples.catalog import load_script, script_names
from samples.model import CallScript, CallTruth, Interruption, Turn, TurnTruth
from samples.synth import render_call

__all__ = [
    "CallScript",
    "CallTruth",
    "Interruption",
    "Turn",
    "TurnTruth",
    "load_script",
    "render_call",
    "script_names",
]
