"""Accuracy bounds that say what they measured.

A test bounds a figure with ``bounded("customer WER", value, below=0.35)``. With
``CALLYTICS_MEASUREMENTS=<file>`` set, each figure is also appended there as a JSON line,
whether or not it holds: ``bench/spread.py`` runs the accuracy tests under several float
paths (CPU instruction sets, thread counts) and reports each figure's spread beside its
bound, which is how every bound's margin was chosen (bench/RESULTS.md).
"""

from __future__ import annotations

import json
import os


def bounded(
    name: str, value: float, *, below: float | None = None, above: float | None = None
) -> float:
    """Assert ``above < value < below`` (either side optional); record it when asked."""
    path = os.environ.get("CALLYTICS_MEASUREMENTS")
    if path:
        test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
        line = {"test": test, "name": name, "value": value, "below": below, "above": above}
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
    if below is not None:
        assert value < below, f"{name} = {value:.4g}, bound: below {below}"
    if above is not None:
        assert value > above, f"{name} = {value:.4g}, bound: above {above}"
    return value
